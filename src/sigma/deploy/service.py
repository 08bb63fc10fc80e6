"""The service-manager step: enable and (re)start a unit with systemd over SSH.

Kept small and apart from the install steps on purpose. A host without a running systemd
(a container, a chroot, this project's CI sandbox) cannot have the service enabled or
started: that is reported as the host's failure, with what was installed, never skipped.

Round trips are what a deploy to a far-away host costs, so the state is read by a shell
snippet that joins the host's one facts command (`probe_script`), and `apply` changes
everything in one command.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from sigma.deploy.ssh import DeployError, SshHost


class NoServiceManager(DeployError):
    pass


# `systemctl is-system-running` prints one of these when systemd runs as PID 1 (its exit
# status is non-zero for "degraded" and friends, so the word is what counts)
_RUNNING = {"initializing", "starting", "running", "degraded", "maintenance", "stopping"}


def _key(unit: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in unit)


@dataclass
class SystemdState:
    manager: str  # the word `systemctl is-system-running` said, or "missing"
    enabled: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)


class Systemd:
    def __init__(self, host: SshHost, unit: str, conflicts: tuple[str, ...] = ()):
        self.host = host
        self.unit = unit
        self.conflicts = conflicts

    def probe_script(self) -> str:
        """Shell lines printing `systemd=WORD` and `enabled_U=1` / `active_U=1` facts."""
        lines = [
            "if command -v systemctl >/dev/null 2>&1; then "
            "echo systemd=$(systemctl is-system-running 2>/dev/null | head -n1); "
            "else echo systemd=missing; fi"
        ]
        for unit in (self.unit, *self.conflicts):
            u, k = shlex.quote(unit), _key(unit)
            lines.append(f"systemctl is-enabled {u} >/dev/null 2>&1 && echo enabled_{k}=1")
            lines.append(f"systemctl is-active {u} >/dev/null 2>&1 && echo active_{k}=1")
        return "; ".join(lines)

    def parse(self, facts: dict[str, str]) -> SystemdState:
        st = SystemdState(manager=facts.get("systemd", "") or "offline")
        for unit in (self.unit, *self.conflicts):
            if facts.get(f"enabled_{_key(unit)}"):
                st.enabled.add(unit)
            if facts.get(f"active_{_key(unit)}"):
                st.active.add(unit)
        return st

    def require(self, st: SystemdState) -> None:
        if st.manager == "missing":
            raise NoServiceManager("service manager: systemctl not found on the host (no systemd)")
        if st.manager not in _RUNNING:
            raise NoServiceManager(
                "service manager: systemd is not running on the host "
                f"(systemctl says '{st.manager}'), "
                "so node_exporter cannot be enabled or started"
            )

    def plan(self, st: SystemdState, *, reload: bool, restart: bool) -> list[tuple[str, str]]:
        """(action, command) pairs that make the unit enabled and running; restart only if asked."""
        self.require(st)
        steps: list[tuple[str, str]] = []
        for other in self.conflicts:
            if other in st.enabled or other in st.active:
                steps.append((f"disable {other}", f"systemctl disable --now {shlex.quote(other)}"))
        if reload:
            steps.append(("daemon-reload", "systemctl daemon-reload"))
        u = shlex.quote(self.unit)
        if self.unit not in st.enabled:
            steps.append(("enable", f"systemctl enable {u}"))
        if self.unit not in st.active:
            steps.append(("start", f"systemctl start {u}"))
        elif restart:
            steps.append(("restart", f"systemctl restart {u}"))
        return steps

    def apply(self, st: SystemdState, *, reload: bool, restart: bool) -> list[str]:
        """Run the plan in one command; returns what was done (past tense)."""
        steps = self.plan(st, reload=reload, restart=restart)
        if not steps:
            return []
        script = (
            'step() { what=$1; shift; out=$("$@" 2>&1) || { '
            'printf "%s failed: %s\\n" "$what" '
            '"$(printf "%s" "$out" | tail -n 1)" >&2; exit 1; }; }; '
            + " && ".join(f"step {shlex.quote(what)} {cmd}" for what, cmd in steps)
        )
        done = self.host.run(script)
        if done.rc != 0:
            raise DeployError(f"service manager: {done.reason()}")
        past = {"enable": "enabled", "start": "started", "restart": "restarted"}
        return [past.get(what, what.replace("disable ", "disabled ", 1)) for what, _ in steps]
