"""Atomic file output for cron jobs (Prometheus file_sd, exports): a reader never sees a
half-written file, an unchanged file is not touched, and a failure keeps the old file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from sigma.errors import SigmaError


class WriteFailed(SigmaError):
    """The output file could not be written; the previous one is still in place."""

    code = "write_failed"
    exit_code = 1


def write_atomic(path: str | os.PathLike[str], data: str | bytes, mode: int = 0o644) -> bool:
    """Write `data` to `path` via a temporary file in the same directory and a rename.

    Returns False (and leaves the file alone, mtime included) when it already holds exactly
    `data`. An existing file keeps its permission bits. Raises WriteFailed on any OS error
    (permission denied, disk full, missing directory...), after removing the temporary file.
    """
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if target.is_file() and target.stat().st_size == len(raw) and target.read_bytes() == raw:
            return False
    except OSError:
        pass  # unreadable: try to replace it; a real problem shows up below
    tmp: Path | None = None
    try:
        with contextlib.suppress(FileNotFoundError):
            mode = target.stat().st_mode & 0o7777
        directory = target.parent if str(target.parent) else Path(".")
        fd, name = _mkstemp(directory, target.name)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return True
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno == errno.EFBIG:
            reason += " (file size limit or disk full)"
        raise WriteFailed(f"cannot write {target}: {reason}; the previous file was kept") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _mkstemp(directory: Path, name: str) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
