"""The probe's rounds.

Each round: deliver what waits in the spool (oldest first); fetch the targets
(`GET {api}/ip-checks/targets`; when that fails the previous round's targets are used);
run every check with at most `concurrency` at a time (a fixed pool of worker coroutines
pulling from one iterator, so memory does not grow with the number of targets); post the
results in batches of `batch_size` (`POST {api}/ip-checks/batch`) while the checks go on.
A batch the server does not take (unreachable, 5xx, 401/403, 429) goes to the spool; one it
refuses as invalid (400/413/422) is logged and dropped. One progress line per round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from sigma.probe import checks
from sigma.probe.config import ProbeConfig
from sigma.probe.spool import Spool

log = logging.getLogger("sigma.probe")
PERMANENT = (400, 413, 422)


@dataclass
class RoundStats:
    number: int = 0
    targets: int = 0
    checks: int = 0
    ok: int = 0
    failed: int = 0
    posted: int = 0
    spooled: int = 0
    dropped: int = 0
    from_spool: int = 0
    seconds: float = 0.0
    aborted: str = ""
    by_type: dict[str, list[int]] = field(default_factory=dict)  # type -> [ok, failed]

    def line(self, source: str, spool: tuple[int, int]) -> str:
        if self.aborted:
            return (
                f"round {self.number} [{source}]: skipped: {self.aborted}; spool {spool[0]} batches"
            )
        types = ", ".join(f"{t} {v[0]}/{v[0] + v[1]}" for t, v in self.by_type.items())
        return (
            f"round {self.number} [{source}]: {self.checks} checks of {self.targets} targets in "
            f"{self.seconds:.1f}s: {self.ok} ok, {self.failed} failed ({types}); "
            f"posted {self.posted}, spooled {self.spooled}, dropped {self.dropped}; "
            f"delivered from spool {self.from_spool}"
            f"; spool {spool[0]} batches ({spool[1] // 1024} KiB)"
        )


def _raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need and (hard == resource.RLIM_INFINITY or hard > soft):
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    return soft


class Probe:
    def __init__(self, cfg: ProbeConfig, api: httpx.AsyncClient | None = None):
        self.cfg = cfg
        self.spool = Spool(cfg.spool_dir, cfg.spool_max_bytes)
        self.api = api
        self.icmp_privileged = checks.icmp_privileged() if "icmp" in cfg.check_types else False
        limit = _raise_fd_limit(cfg.concurrency + 128)
        if cfg.concurrency + 64 > limit:
            log.warning(
                "concurrency %d lowered to %d (open files limit %d)",
                cfg.concurrency,
                limit - 64,
                limit,
            )
            cfg.concurrency = max(1, limit - 64)
        self.targets: list[dict[str, Any]] = []
        self.rounds = 0
        self.server_down = False

    def _api(self) -> httpx.AsyncClient:
        if self.api is None:
            headers = {"User-Agent": "sigma-probe"}
            if self.cfg.api_key:
                headers["X-Api-Key"] = self.cfg.api_key
            self.api = httpx.AsyncClient(
                base_url=self.cfg.api_url, headers=headers, timeout=self.cfg.timeout
            )
        return self.api

    async def close(self) -> None:
        if self.api is not None:
            await self.api.aclose()

    # ------------------------------------------------------------ server

    async def fetch_targets(self) -> list[dict[str, Any]]:
        r = await self._api().get("/ip-checks/targets")
        if r.status_code >= 400:
            raise RuntimeError(f"API error ({r.status_code}): {_error(r)}")
        data = r.json()
        if not isinstance(data, list):
            raise RuntimeError("targets: the answer is not a list")
        return data

    async def post(self, batch: list[dict[str, Any]]) -> str:
        """'ok', 'retry' (keep it) or 'drop' (the server refuses it for good)."""
        try:
            r = await self._api().post("/ip-checks/batch", json={"checks": batch})
        except httpx.HTTPError as exc:
            log.warning("posting %d results failed: %s", len(batch), type(exc).__name__)
            return "retry"
        if r.status_code < 300:
            rejected = (r.json() or {}).get("rejected") or []
            if rejected:
                log.warning(
                    "server rejected %d of %d results, e.g. %s",
                    len(rejected),
                    len(batch),
                    rejected[0]["error"],
                )
            return "ok"
        if r.status_code in PERMANENT:
            log.error(
                "server refused a batch of %d results for good: API error (%d): %s",
                len(batch),
                r.status_code,
                _error(r),
            )
            return "drop"
        log.warning(
            "posting %d results failed: API error (%d): %s", len(batch), r.status_code, _error(r)
        )
        return "retry"

    async def deliver_spool(self, stats: RoundStats) -> None:
        for path in self.spool.files():
            batch = self.spool.load(path)
            if batch is None:
                continue
            outcome = await self.post(batch)
            if outcome == "retry":
                self.server_down = True
                return
            self.spool.remove(path)
            if outcome == "ok":
                stats.from_spool += len(batch)
            else:
                stats.dropped += len(batch)
        self.server_down = False

    async def _send(self, batch: list[dict[str, Any]], stats: RoundStats) -> None:
        try:
            outcome = "retry" if self.server_down else await self.post(batch)
        except asyncio.CancelledError:
            # stopped while posting: keep it (if the server did store it, the ids dedupe it)
            self.spool.put(batch)
            raise
        if outcome == "ok":
            stats.posted += len(batch)
        elif outcome == "drop":
            stats.dropped += len(batch)
        else:
            self.server_down = True
            self.spool.put(batch)
            stats.spooled += len(batch)

    # ------------------------------------------------------------ checks

    def jobs(
        self, targets: list[dict[str, Any]]
    ) -> Iterator[tuple[dict[str, Any], str, int | None]]:
        for t in targets:
            for ct in self.cfg.check_types:
                if ct == "tcp":
                    for port in dict.fromkeys((int(t.get("ssh_port") or 22), *self.cfg.tcp_ports)):
                        yield t, ct, port
                else:
                    yield t, ct, None

    async def check(
        self, http: httpx.AsyncClient, target: dict[str, Any], ct: str, port: int | None
    ) -> dict[str, Any]:
        ip = target["ip"]
        cfg = self.cfg
        if ct == "icmp":
            ok, ms = await self.pinger.ping(ip, cfg.icmp_timeout)
        elif ct == "tcp":
            ok, ms = await checks.tcp(ip, port or 22, cfg.tcp_timeout)
        else:
            ok, ms = await checks.http(
                http, checks.http_url(ip, cfg.http_scheme, cfg.http_port), cfg.http_timeout
            )
        return {
            "id": str(uuid.uuid4()),
            "vps_id": target["vps_id"],
            "ip": ip,
            "check_type": ct,
            "source": cfg.source,
            "success": ok,
            "latency_ms": ms,
            "checked_at": datetime.now(UTC).isoformat(),
        }

    async def run_round(self) -> RoundStats:
        self.rounds += 1
        stats = RoundStats(number=self.rounds)
        t0 = time.perf_counter()
        await self.deliver_spool(stats)
        try:
            self.targets = await self.fetch_targets()
        except (httpx.HTTPError, RuntimeError, ValueError) as exc:
            if not self.targets:
                stats.aborted = f"cannot fetch targets: {exc or type(exc).__name__}"
                stats.seconds = time.perf_counter() - t0
                return stats
            log.warning(
                "cannot fetch targets (%s); using the %d of the last round",
                exc or type(exc).__name__,
                len(self.targets),
            )
        targets = self.targets
        stats.targets = len(targets)
        jobs = self.jobs(targets)
        batch: list[dict[str, Any]] = []
        queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(maxsize=4)

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                await self._send(item, stats)

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal batch
            for target, ct, port in jobs:  # one shared iterator: each job is taken once
                result = await self.check(http, target, ct, port)
                stats.checks += 1
                counts = stats.by_type.setdefault(ct, [0, 0])
                if result["success"]:
                    stats.ok += 1
                    counts[0] += 1
                else:
                    stats.failed += 1
                    counts[1] += 1
                batch.append(result)
                if len(batch) >= self.cfg.batch_size:
                    full, batch = batch, []
                    await queue.put(full)

        self.pinger = checks.Pinger(self.icmp_privileged)
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            verify=False,
            limits=limits,
            follow_redirects=False,
            headers={"User-Agent": "sigma-probe", "Connection": "close"},
        ) as http:
            send_task = asyncio.create_task(sender())
            try:
                try:
                    await asyncio.gather(*(worker(http) for _ in range(self.cfg.concurrency)))
                finally:
                    await self.pinger.close()
            except asyncio.CancelledError:
                # stopped mid-round: what was measured but not posted goes to the spool
                send_task.cancel()
                pending: list[list[dict[str, Any]] | None] = [batch]
                while not queue.empty():
                    pending.append(queue.get_nowait())
                for b in pending:
                    if b:
                        self.spool.put(b)
                raise
            if batch:
                await queue.put(batch)
                batch = []
            await queue.put(None)
            await send_task
        stats.seconds = time.perf_counter() - t0
        return stats

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> int:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            round_task = asyncio.create_task(self.run_round())
            stop_task = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait(
                {round_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if round_task not in done:
                round_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await round_task
                break
            stop_task.cancel()
            stats = round_task.result()
            log.info(stats.line(self.cfg.source, self.spool.size()))
            if once:
                return 1 if stats.aborted else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.interval)
        return 0


def _error(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error") or r.text)[:300]
    except (ValueError, AttributeError):
        return r.text[:300]


def run(cfg: ProbeConfig, once: bool = False) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request

    async def main() -> int:
        probe = Probe(cfg)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "sigma probe %s -> %s: %s every %gs, concurrency %d",
            cfg.source,
            cfg.api_url,
            ",".join(cfg.check_types),
            cfg.interval,
            cfg.concurrency,
        )
        try:
            return await probe.run(once=once, stop=stop)
        finally:
            await probe.close()

    return asyncio.run(main())
