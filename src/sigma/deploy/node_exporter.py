"""Install Prometheus node_exporter on fleet hosts, idempotently, over SSH.

Per host: connect (host key checked) -> read the host's state in one command -> install
(the Debian/Ubuntu package `prometheus-node-exporter`, or an operator-provided binary
uploaded over SFTP and verified by SHA-256 on the host before it is moved into place) ->
write the systemd unit if its content differs -> the service-manager step (enable, start,
restart only if the binary or the unit changed) -> GET /metrics from the operator's side.

A second run finds the same checksums and a running service: it reports `unchanged` and
restarts nothing. One host's failure never stops the others; each ends as a HostResult.
This module knows nothing of the inventory: the command updates it through the Backend.
"""

from __future__ import annotations

import hashlib
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sigma.deploy.service import Systemd
from sigma.deploy.ssh import DeployError, SshHost, SshOptions, connect

PACKAGE = "prometheus-node-exporter"
UNIT_NAME = "node_exporter.service"

CHANGED, UNCHANGED, FAILED, WOULD_CHANGE = "changed", "unchanged", "failed", "would change"


@dataclass(frozen=True)
class Layout:
    """Where things go on the host."""

    binary: str = "/usr/local/bin/node_exporter"  # where --binary is installed
    package_binary: str = "/usr/bin/prometheus-node-exporter"  # what the package installs
    unit_dir: str = "/etc/systemd/system"
    unit_name: str = UNIT_NAME

    @property
    def unit_path(self) -> str:
        return str(PurePosixPath(self.unit_dir) / self.unit_name)


@dataclass(frozen=True)
class Target:
    """One host to deploy to, resolved from the inventory."""

    name: str  # hostname, for the table
    address: str | None  # first non-internal IP; None = nothing to connect to
    ssh_port: int = 22
    port: int = 9100  # node_exporter's listen port
    vps_id: str = ""
    problem: str | None = None  # a reason to fail without connecting (retired, no IP...)


@dataclass(frozen=True)
class Options:
    ssh: SshOptions = field(default_factory=SshOptions)
    binary: str | None = None  # local file to upload; None = the Debian package
    binary_sha256: str | None = None  # computed by `prepare()`
    layout: Layout = field(default_factory=Layout)
    dry_run: bool = False
    metrics_wait: float = 15.0  # seconds to wait for /metrics after a (re)start
    extra_args: tuple[str, ...] = ()


@dataclass
class HostResult:
    name: str
    address: str
    status: str
    actions: list[str] = field(default_factory=list)
    reason: str = ""
    vps_id: str = ""
    port: int = 0

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    @property
    def detail(self) -> str:
        if self.reason:
            done = f" (done before: {', '.join(self.actions)})" if self.actions else ""
            return self.reason + done
        return ", ".join(self.actions) if self.actions else "-"

    def as_row(self) -> dict[str, object]:
        return {
            "host": self.name,
            "address": self.address,
            "port": self.port,
            "status": self.status,
            "actions": list(self.actions),
            "reason": self.reason,
            "id": self.vps_id,
        }


# ------------------------------------------------------------------ pure parts


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render_unit(binary: str, port: int, extra_args: tuple[str, ...] = ()) -> str:
    """The systemd unit: a dynamic unprivileged user, a read-only view of the system."""
    args = " ".join([f"--web.listen-address=:{port}", *(shlex.quote(a) for a in extra_args)])
    return (
        "# Managed by sigma (`sigma deploy node-exporter`): changes here are overwritten.\n"
        "[Unit]\n"
        "Description=Prometheus node_exporter (managed by sigma)\n"
        "Documentation=https://github.com/prometheus/node_exporter\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        "DynamicUser=yes\n"
        f"ExecStart={binary} {args}\n"
        "Restart=on-failure\n"
        "RestartSec=5s\n"
        "NoNewPrivileges=yes\n"
        "ProtectSystem=strict\n"
        "ProtectHome=read-only\n"
        "PrivateTmp=yes\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def facts_script(layout: Layout, binary_path: str) -> str:
    """One shell command reporting everything the plan needs, as key=value lines."""
    b, u = shlex.quote(binary_path), shlex.quote(layout.unit_path)
    return "; ".join(
        [
            "echo uid=$(id -u)",
            "command -v sha256sum >/dev/null 2>&1 && echo have_sha256sum=1",
            f"[ -f {b} ] && echo bin_sha256=$(sha256sum < {b} | cut -d' ' -f1)",
            f"[ -x {b} ] && echo bin_exec=1",
            f"[ -f {u} ] && echo unit_sha256=$(sha256sum < {u} | cut -d' ' -f1)",
            "command -v apt-get >/dev/null 2>&1 && echo have_apt=1",
            f"echo pkg_status=$(dpkg-query -W -f='${{Status}}' {PACKAGE} 2>/dev/null)",
            "true",
        ]
    )


def parse_facts(text: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


@dataclass
class Plan:
    install: str | None = None  # "upload" | "package" | None
    write_unit: bool = False
    unit_text: str = ""
    binary_path: str = ""

    @property
    def restart(self) -> bool:
        return bool(self.install) or self.write_unit

    def describe(self) -> list[str]:
        out = []
        if self.install == "upload":
            out.append("upload binary")
        elif self.install == "package":
            out.append(f"install package {PACKAGE}")
        if self.write_unit:
            out.append(f"write {UNIT_NAME}")
        return out


def make_plan(facts: dict[str, str], target: Target, opts: Options) -> Plan:
    """Decide what to change from the host's facts (pure: tested without a host)."""
    if not facts.get("have_sha256sum"):
        raise DeployError("sha256sum not found on the host (coreutils): cannot verify anything")
    plan = Plan()
    if opts.binary:
        plan.binary_path = opts.layout.binary
        if facts.get("bin_sha256") != opts.binary_sha256 or not facts.get("bin_exec"):
            plan.install = "upload"
    else:
        plan.binary_path = opts.layout.package_binary
        if "install ok installed" not in facts.get("pkg_status", ""):
            if not facts.get("have_apt"):
                raise DeployError(
                    f"no apt-get on the host, so no {PACKAGE} package: pass --binary PATH "
                    "(a node_exporter binary for the host's architecture)"
                )
            plan.install = "package"
    plan.unit_text = render_unit(plan.binary_path, target.port, opts.extra_args)
    want = hashlib.sha256(plan.unit_text.encode()).hexdigest()
    plan.write_unit = facts.get("unit_sha256") != want
    return plan


def metrics_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/metrics"


def check_metrics(address: str, port: int, wait: float) -> None:
    """GET /metrics from here until it answers with node_exporter metrics, or `wait` ends."""
    url = metrics_url(address, port)
    deadline = time.monotonic() + max(wait, 0)
    last = "no answer"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - http to our host
                body = resp.read(4 << 20)
                if resp.status == 200 and b"node_" in body:
                    return
                last = f"HTTP {resp.status} without node_* metrics"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = str(getattr(reason, "strerror", None) or reason)
        if time.monotonic() >= deadline:
            raise DeployError(
                f"{url} did not answer from here: {last} (service down, or a firewall?)"
            )
        time.sleep(0.5)


# ------------------------------------------------------------------ one host


Progress = Callable[[str], None]


def _install_file(
    host: SshHost,
    data: bytes | None,
    local: str | None,
    dest: str,
    mode: str,
    expect_sha256: str,
    what: str,
) -> None:
    """Upload to a fresh temp file, then in one command on the host: verify its SHA-256,
    install it beside `dest` and rename it into place (atomic), remove the temp file."""
    import secrets

    tmp = f"/tmp/sigma-deploy-{secrets.token_hex(16)}"
    host.upload(local, tmp, data=data)
    t, d = shlex.quote(tmp), shlex.quote(dest)
    parent = shlex.quote(str(PurePosixPath(dest).parent))
    new = shlex.quote(dest + ".sigma-new")
    script = (
        f"got=$(sha256sum < {t} | cut -d' ' -f1); "
        f'if [ "$got" != {shlex.quote(expect_sha256)} ]; then '
        f'rm -f {t}; echo "mismatch:$got"; exit 3; fi; '
        f"install -d -m 0755 {parent} && install -m {mode} {t} {new} && mv -f {new} {d}; "
        f"rc=$?; rm -f {t}; exit $rc"
    )
    done = host.run(script)
    if done.rc == 3 and done.out.startswith("mismatch:"):
        got = done.out.strip().removeprefix("mismatch:")
        raise DeployError(
            f"checksum mismatch after uploading the {what}: expected {expect_sha256}, "
            "the host computed "
            f"{got or 'nothing'}; nothing was replaced"
        )
    if done.rc != 0:
        raise DeployError(f"installing the {what} at {dest} failed: {done.reason()}")


def deploy_host(
    target: Target,
    opts: Options,
    progress: Progress = lambda s: None,
    service_manager: Callable[..., Systemd] = Systemd,
) -> HostResult:
    """Deploy to one host. Never raises for the host's own problems: they become the result."""
    result = HostResult(
        target.name, target.address or "-", FAILED, vps_id=target.vps_id, port=target.port
    )
    if target.problem or not target.address:
        result.reason = target.problem or "no address to connect to"
        return result
    host: SshHost | None = None
    try:
        progress("connecting")
        host = connect(target.address, target.ssh_port, opts.ssh)
        progress("reading state")
        binary_path = opts.layout.binary if opts.binary else opts.layout.package_binary
        conflicts = () if opts.binary else (f"{PACKAGE}.service",)
        manager = service_manager(host, opts.layout.unit_name, conflicts)
        probe = host.run(
            facts_script(opts.layout, binary_path) + "; " + manager.probe_script(), privileged=False
        )
        facts = parse_facts(probe.out)
        if "uid" not in facts:
            raise DeployError(f"cannot run commands on the host: {probe.reason()}")
        host.sudo = facts["uid"] != "0"
        plan = make_plan(facts, target, opts)
        services = manager.parse(facts)
        if plan.install == "package":
            # the package's postinst enables and starts its own unit on 9100: ours replaces it
            services.enabled.update(conflicts)
            services.active.update(conflicts)
        if opts.dry_run:
            steps = manager.plan(services, reload=plan.write_unit, restart=plan.restart)
            result.actions = plan.describe() + [what for what, _ in steps]
            result.status = WOULD_CHANGE if result.actions else UNCHANGED
            return result
        if plan.install == "upload":
            progress("uploading binary")
            _install_file(
                host,
                None,
                opts.binary,
                plan.binary_path,
                "0755",
                opts.binary_sha256 or "",
                "binary",
            )
            result.actions.append(f"installed binary (sha256 {(opts.binary_sha256 or '')[:12]}…)")
        elif plan.install == "package":
            progress(f"installing {PACKAGE}")
            env = "DEBIAN_FRONTEND=noninteractive"
            install = f"{env} apt-get install -y -q --no-install-recommends {PACKAGE}"
            host.check(
                f"{install} >/dev/null 2>&1 || "
                f"{{ {env} apt-get update -q >/dev/null && {install}; }}",
                f"apt-get install {PACKAGE}",
            )
            result.actions.append(f"installed package {PACKAGE}")
        if plan.write_unit:
            progress("writing unit")
            data = plan.unit_text.encode()
            _install_file(
                host,
                data,
                None,
                opts.layout.unit_path,
                "0644",
                hashlib.sha256(data).hexdigest(),
                "unit file",
            )
            result.actions.append(f"wrote {opts.layout.unit_path}")
        progress("service manager")
        result.actions += manager.apply(services, reload=plan.write_unit, restart=plan.restart)
        progress("checking /metrics")
        check_metrics(target.address, target.port, opts.metrics_wait)
        result.status = CHANGED if result.actions else UNCHANGED
    except DeployError as exc:
        result.status = FAILED
        result.reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - one host's surprise must not stop the others
        result.status = FAILED
        result.reason = f"unexpected {type(exc).__name__}: {exc}"
    finally:
        if host is not None:
            host.close()
    return result


def deploy_many(
    targets: list[Target],
    opts: Options,
    *,
    parallel: int = 8,
    on_start: Callable[[Target], None] = lambda t: None,
    on_step: Callable[[Target, str], None] = lambda t, s: None,
    on_done: Callable[[HostResult], None] = lambda r: None,
) -> list[HostResult]:
    """Deploy to every target with at most `parallel` connections; results in input order.
    `on_done` runs in the calling thread, as each host finishes."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    def one(t: Target) -> HostResult:
        on_start(t)
        return deploy_host(t, opts, progress=lambda step: on_step(t, step))

    results: dict[int, HostResult] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="deploy") as pool:
        futures = {pool.submit(one, t): i for i, t in enumerate(targets)}
        for fut in as_completed(futures):
            res = fut.result()
            results[futures[fut]] = res
            on_done(res)
    return [results[i] for i in range(len(targets))]


def prepare(opts: Options, expected_sha256: str | None = None) -> Options:
    """Check the local binary (exists, readable, matches --sha256) and record its checksum."""
    import os
    from dataclasses import replace

    from sigma.errors import InvalidInput

    if not opts.binary:
        if expected_sha256:
            raise InvalidInput("sha256: only meaningful with --binary", field="sha256")
        return opts
    if not os.path.isfile(opts.binary):
        raise InvalidInput(f"binary: {opts.binary} is not a file", field="binary")
    try:
        digest = sha256_file(opts.binary)
    except OSError as exc:
        raise InvalidInput(
            f"binary: cannot read {opts.binary}: {exc.strerror}", field="binary"
        ) from None
    if expected_sha256:
        want = expected_sha256.strip().lower()
        if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
            raise InvalidInput("sha256: must be 64 hexadecimal characters", field="sha256")
        if want != digest:
            raise InvalidInput(
                f"sha256: {opts.binary} has SHA-256 {digest}, not the expected {want}",
                field="sha256",
            )
    return replace(opts, binary_sha256=digest)
