"""SSH connections for deployments: key or agent authentication, host keys checked
against a known_hosts file.

Host-key policy (as OpenSSH's `StrictHostKeyChecking=accept-new`, opt-in):
- a known host presenting its recorded key: accepted;
- an unknown host: refused, unless `accept_new`, which records the key (appended to the
  known_hosts file, under a lock since many hosts connect in parallel);
- a known host presenting a different key, or a key of a type other than the recorded
  one(s): always refused, whatever `accept_new` says.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import paramiko

_KNOWN_HOSTS_LOCK = threading.Lock()


class DeployError(Exception):
    """One host's deployment failed; the message is the reason shown to the operator."""


class HostKeyUnknown(DeployError):
    pass


class HostKeyChanged(DeployError):
    pass


def known_host_name(address: str, port: int) -> str:
    """The name known_hosts files use: `host` on port 22, `[host]:port` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def default_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


@dataclass(frozen=True)
class SshOptions:
    user: str = "root"
    identity: str | None = None  # private key file; None = ssh-agent and ~/.ssh/id_*
    known_hosts: str | None = None  # None = ~/.ssh/known_hosts
    accept_new: bool = False
    record_new: bool = True  # False in dry runs: accept for this session, write nothing
    timeout: float = 20.0

    @property
    def known_hosts_path(self) -> Path:
        return Path(self.known_hosts).expanduser() if self.known_hosts else default_known_hosts()


class _Policy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only when the recorded keys hold no key of the offered type."""

    def __init__(self, opts: SshOptions, port: int):
        self.opts = opts
        self.port = port

    def missing_host_key(self, client, hostname, key):
        path = self.opts.known_hosts_path
        name = known_host_name(hostname, self.port) if not hostname.startswith("[") else hostname
        recorded = client.get_host_keys().lookup(name)
        if recorded:
            types = ", ".join(sorted(recorded.keys()))
            raise HostKeyChanged(
                f"host key CHANGED for {name}: it offered {key.get_name()} {key.fingerprint} but "
                f"{path} records only {types}; refusing to connect"
            )
        if not self.opts.accept_new:
            raise HostKeyUnknown(
                f"host key for {name} is unknown "
                f"({key.get_name()} {key.fingerprint} is not in {path}); "
                "check it and add it to known_hosts, or pass --accept-new"
            )
        client.get_host_keys().add(name, key.get_name(), key)
        if self.opts.record_new:
            line = f"{name} {key.get_name()} {key.get_base64()}\n"
            with _KNOWN_HOSTS_LOCK:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="ascii") as fh:
                    fh.write(line)


@dataclass
class Completed:
    rc: int
    out: str
    err: str

    def reason(self) -> str:
        """The last meaningful line of the command's output, for a failure message."""
        for text in (self.err, self.out):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return f"exit status {self.rc}"


class SshHost:
    """One open connection; commands run through `sh -c` (with `sudo -n` when not root)."""

    def __init__(self, client: paramiko.SSHClient, address: str, port: int, user: str):
        self.client = client
        self.address = address
        self.port = port
        self.user = user
        self.sudo = False
        self._sftp: paramiko.SFTPClient | None = None

    def run(self, script: str, *, privileged: bool = True, timeout: float = 600) -> Completed:
        command = f"sh -c {shlex.quote(script)}"
        if privileged and self.sudo:
            command = f"sudo -n {command}"
        try:
            stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout)
            stdin.close()
            out = stdout.read().decode("utf-8", "replace")
            err = stderr.read().decode("utf-8", "replace")
            rc = stdout.channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError) as exc:
            raise DeployError(f"connection lost: {exc or type(exc).__name__}") from None
        return Completed(rc, out, err)

    def check(self, script: str, what: str, **kw) -> Completed:
        done = self.run(script, **kw)
        if done.rc != 0:
            raise DeployError(f"{what} failed: {done.reason()}")
        return done

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except (paramiko.SSHException, OSError) as exc:
                raise DeployError(f"cannot open SFTP: {exc}") from None
        return self._sftp

    def upload(self, local: str | None, remote: str, data: bytes | None = None) -> None:
        try:
            # exclusive create: never follow or reuse a file someone planted at `remote`
            with self.sftp().open(remote, "wbx") as dst:
                dst.set_pipelined(True)
                src: IO[bytes]
                if data is not None:
                    src = io.BytesIO(data)
                elif local is not None:
                    src = open(local, "rb")  # noqa: SIM115
                else:  # what open(None) raised
                    raise TypeError("upload needs a local file or data")
                with src:
                    shutil.copyfileobj(src, dst, 1 << 16)
        except (paramiko.SSHException, OSError) as exc:
            raise DeployError(f"upload to {remote} failed: {exc}") from None

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()


def connect(address: str, port: int, opts: SshOptions) -> SshHost:
    """Open and authenticate a connection; every failure is a DeployError with a reason."""
    client = paramiko.SSHClient()
    path = opts.known_hosts_path
    if path.exists():
        try:
            client.load_host_keys(str(path))
        except (OSError, paramiko.SSHException) as exc:
            raise DeployError(f"cannot read known_hosts {path}: {exc}") from None
    client.set_missing_host_key_policy(_Policy(opts, port))
    where = f"{opts.user}@{address}:{port}"
    try:
        client.connect(
            hostname=address,
            port=port,
            username=opts.user,
            key_filename=opts.identity,
            allow_agent=True,
            look_for_keys=opts.identity is None,
            timeout=opts.timeout,
            banner_timeout=opts.timeout,
            auth_timeout=opts.timeout,
        )
    except DeployError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyChanged(
            f"host key CHANGED for {known_host_name(address, port)}: it offered "
            f"{exc.key.get_name()} {exc.key.fingerprint}, "
            f"{path} records {exc.expected_key.fingerprint}; "
            "refusing to connect (possible man-in-the-middle; if the host was reinstalled, "
            "remove the old line from known_hosts)"
        ) from None
    except paramiko.PasswordRequiredException:
        client.close()
        raise DeployError(
            f"the private key {opts.identity or ''} is encrypted: load it into ssh-agent first"
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise DeployError(f"authentication failed for {where}: {exc}") from None
    except (TimeoutError, paramiko.SSHException, OSError) as exc:
        client.close()
        text = str(exc) or type(exc).__name__
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
            text = "connection refused"
        raise DeployError(f"cannot connect to {where}: {text}") from None
    host = SshHost(client, address, port, opts.user)
    host.sudo = opts.user != "root"  # refined from `id -u` by the first command's facts
    return host
