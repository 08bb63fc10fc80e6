"""A bounded on-disk spool of result batches the server has not acknowledged yet.

One JSON file per batch, written atomically (temp file, fsync, rename), named so that
lexical order is arrival order. Past `max_bytes` the oldest batches are dropped (and
logged). Each check carries its idempotency key (`id`), so a batch posted just before a
crash and posted again after the restart is stored once by the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("sigma.probe")


class Spool:
    def __init__(self, directory: str | Path, max_bytes: int):
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.dropped = 0

    def _ensure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(self, checks: list[dict[str, Any]]) -> Path:
        self._ensure()
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        tmp = self.dir / f".{name}.tmp"
        data = json.dumps({"checks": checks}, separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        path = self.dir / name
        os.replace(tmp, path)
        self._enforce()
        return path

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(
            p for p in self.dir.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
        )

    def load(self, path: Path) -> list[dict[str, Any]] | None:
        """The batch in `path`; a damaged file is set aside as .bad and None returned."""
        try:
            data = json.loads(path.read_bytes())
            checks = data["checks"]
            if not isinstance(checks, list):
                raise ValueError("checks is not a list")
            return checks
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("spool: %s is damaged (%s); moved aside", path.name, exc)
            with contextlib.suppress(OSError):
                os.replace(path, path.with_suffix(".bad"))
            return None

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def size(self) -> tuple[int, int]:
        """(batches, bytes)."""
        files = self.files()
        total = 0
        for p in files:
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return len(files), total

    def _enforce(self) -> None:
        files = self.files()
        sizes = []
        for p in files:
            try:
                sizes.append(p.stat().st_size)
            except OSError:
                sizes.append(0)
        total = sum(sizes)
        i = 0
        while total > self.max_bytes and i < len(files) - 1:  # never drop the newest
            lost = self.load(files[i]) or []
            self.remove(files[i])
            total -= sizes[i]
            self.dropped += len(lost)
            log.warning(
                "spool full (%d bytes max): dropped the oldest batch, %d checks",
                self.max_bytes,
                len(lost),
            )
            i += 1
