"""The probe's rounds.

Each round: deliver what waits in the spool (oldest first); fetch the targets
(`GET {api}/ip-checks/targets`; when that fails the previous round's targets are used) and
the reference targets (`GET {api}/probes/references`: hosts whose reachability from here is
known, e.g. one that must be reachable and one that must be blocked; none when the server
has no such route (404, an older server) or fails); run every check, references first,
with at most `concurrency` at a time (a fixed pool of worker coroutines pulling from one
iterator); post the targets' results in batches of `batch_size` (`POST
{api}/ip-checks/batch`) while the checks go on, about two batches held at most (the
checks wait for a slow server: memory does not grow with the number of targets). A batch the
server does not take (unreachable, 5xx, 401/403, 429) goes to the spool; one it refuses as
invalid (400/413/422) is logged and dropped. At the end, a round report (`POST
{api}/probes/report`: who measured (source, carrier, region, control, version), the round's
size and time, the references' outcomes; best effort, never spooled; a 404 stops it for the
life of the process). One progress line per round, counting the outcomes.

Each result: id, vps_id, ip, check_type, source, success (the original's boolean: outcome
ok or http_error), outcome (checks.OUTCOMES), latency_ms, port (tcp, tls, http; null for
icmp), loss_pct and jitter_ms (icmp only), checked_at (ISO, UTC).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import resource
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx

import sigma
from sigma.probe import checks
from sigma.probe.config import CHECK_TYPES, ConfigError, ProbeConfig
from sigma.probe.spool import Spool
from sigma.probe.targets import Target, Targets, parse

log = logging.getLogger("sigma.probe")
PERMANENT = (400, 413, 422)
EXPECT = ("reachable", "blocked")
MAX_REFERENCES = 100


class Job(NamedTuple):
    ip: str
    check_type: str
    port: int | None
    scheme: str = ""  # http only
    target: Target | None = None
    reference: dict[str, Any] | None = None  # a reference target (name, ip, expect)


def _encode(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"))


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
    outcomes: dict[str, int] = field(default_factory=dict)
    references: list[dict[str, Any]] = field(default_factory=list)  # for the round report
    as_expected: int = 0  # references whose outcome matches their `expect`

    def line(self, source: str, spool: tuple[int, int]) -> str:
        if self.aborted:
            return (
                f"round {self.number} [{source}]: skipped: {self.aborted}; spool {spool[0]} batches"
            )
        types = ", ".join(f"{t} {v[0]}/{v[0] + v[1]}" for t, v in self.by_type.items())
        outcomes = ", ".join(
            f"{o} {self.outcomes[o]}" for o in checks.OUTCOMES if self.outcomes.get(o)
        )
        refs = (
            f"references {len(self.references)} ({self.as_expected} as expected); "
            if self.references
            else ""
        )
        return (
            f"round {self.number} [{source}]: {self.checks} checks of {self.targets} targets in "
            f"{self.seconds:.1f}s: {self.ok} ok, {self.failed} failed ({types}); "
            f"outcomes: {outcomes or 'none'}; {refs}"
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
        # ICMP references are checked even when icmp is not one of the check types, if the
        # probe may send ICMP at all
        self.icmp_available = True
        try:
            self.icmp_privileged = checks.icmp_privileged()
        except ConfigError:
            if "icmp" in cfg.check_types:
                raise
            self.icmp_privileged, self.icmp_available = False, False
        limit = _raise_fd_limit(cfg.concurrency + 128)
        if cfg.concurrency + 64 > limit:
            log.warning(
                "concurrency %d lowered to %d (open files limit %d)",
                cfg.concurrency,
                limit - 64,
                limit,
            )
            cfg.concurrency = max(1, limit - 64)
        self.targets = Targets()
        self.rounds = 0
        self.server_down = False
        self.pinger = checks.Pinger(self.icmp_privileged)
        self.tls_sessions: asyncio.Semaphore | None = None  # a round's (its event loop's)
        self.said: set[str] = set()  # what was logged once
        self.references_error = ""  # the last failure fetching references, not repeated
        self.report_gone = False  # the server has no round reports (404)
        self.report_status: int | None = None  # the last report's HTTP status

    def _api(self) -> httpx.AsyncClient:
        if self.api is None:
            headers = {"User-Agent": "sigma-probe"}
            if self.cfg.api_key:
                headers["X-Api-Key"] = self.cfg.api_key
            self.api = httpx.AsyncClient(
                base_url=self.cfg.api_url,
                headers=headers,
                timeout=self.cfg.timeout,
                # a plain http URL needs no CA bundle (loading certifi's: ~6.7 MB resident)
                verify=self.cfg.api_url.startswith("https://"),
            )
        return self.api

    async def close(self) -> None:
        if self.api is not None:
            await self.api.aclose()

    # ------------------------------------------------------------ server

    async def fetch_targets(self) -> Targets:
        # read into one buffer, decoded once: at 10,000 targets (1.5 MB of JSON) the
        # response's chunks, their join and json's own decoding would hold 3 copies at once
        buf = bytearray()
        async with self._api().stream("GET", "/ip-checks/targets") as r:
            if r.status_code >= 400:
                await r.aread()
                raise RuntimeError(f"API error ({r.status_code}): {_error(r)}")
            async for chunk in r.aiter_bytes():
                buf += chunk
        text = buf.decode(json.detect_encoding(buf), "surrogatepass")
        del buf
        try:
            targets, ignored = parse(text)
        except ValueError as exc:  # json's errors are ValueErrors too
            raise RuntimeError(f"targets: {exc}") from None
        if ignored:
            log.warning("ignored %d targets without vps_id and ip", ignored)
        return targets

    async def fetch_references(self) -> list[dict[str, Any]]:
        """The reference targets; [] (logged) when the server has none or fails."""
        error = ""
        try:
            r = await self._api().get("/probes/references")
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        else:
            if r.status_code == 404:
                self._once(
                    "references", "the server has no reference targets (404: an older server)"
                )
                return []
            if r.status_code >= 400:
                error = f"API error ({r.status_code}): {_error(r)}"
            else:
                try:
                    refs, bad = parse_references(r.json())
                except ValueError:
                    error = "the answer is not a JSON list"
                else:
                    if bad:
                        log.warning(
                            "ignored %d reference targets (not valid, or beyond the first %d)",
                            bad,
                            MAX_REFERENCES,
                        )
                    self.references_error = ""
                    return refs
        if error != self.references_error:
            log.warning("no reference targets this round: %s", error)
        self.references_error = error
        return []

    async def report(self, stats: RoundStats) -> None:
        """The round report: best effort, never spooled."""
        if self.report_gone:
            return
        if self.server_down:
            log.warning("round report not sent: the server does not take results")
            return
        body = {
            "source": self.cfg.source,
            "carrier": self.cfg.carrier,
            "region": self.cfg.region,
            "control": self.cfg.control,
            "version": sigma.__version__,
            "round": {"checks": stats.checks, "seconds": round(stats.seconds, 3)},
            "references": stats.references,
        }
        try:
            r = await self._api().post("/probes/report", json=body)
        except httpx.HTTPError as exc:
            log.warning("round report not sent: %s", type(exc).__name__)
            return
        self.report_status = r.status_code
        if r.status_code == 404:
            self.report_gone = True
            self._once("report", "the server takes no round reports (404: an older server)")
        elif r.status_code >= 300:
            log.warning("round report refused: API error (%d): %s", r.status_code, _error(r))

    def _once(self, key: str, message: str) -> None:
        if key not in self.said:
            self.said.add(key)
            log.info(message)

    async def post(self, batch: list[str]) -> str:
        """'ok', 'retry' (keep it) or 'drop' (the server refuses it for good). The results
        come JSON-encoded (a third of a dict's memory while they wait in the queue)."""
        body = ('{"checks":[' + ",".join(batch) + "]}").encode()
        try:
            r = await self._api().post(
                "/ip-checks/batch", content=body, headers={"Content-Type": "application/json"}
            )
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
            outcome = await self.post([_encode(c) for c in batch])
            if outcome == "retry":
                self.server_down = True
                return
            self.spool.remove(path)
            if outcome == "ok":
                stats.from_spool += len(batch)
            else:
                stats.dropped += len(batch)
        self.server_down = False

    def _spool(self, batch: list[str]) -> None:
        self.spool.put([json.loads(c) for c in batch])

    async def _send(self, batch: list[str], stats: RoundStats) -> None:
        try:
            outcome = "retry" if self.server_down else await self.post(batch)
        except asyncio.CancelledError:
            # stopped while posting: keep it (if the server did store it, the ids dedupe it)
            self._spool(batch)
            raise
        if outcome == "ok":
            stats.posted += len(batch)
        elif outcome == "drop":
            stats.dropped += len(batch)
        else:
            self.server_down = True
            self._spool(batch)
            stats.spooled += len(batch)

    # ------------------------------------------------------------ checks

    def http_port(self) -> int:
        return self.cfg.http_port or (443 if self.cfg.http_scheme == "https" else 80)

    def jobs(
        self, targets: Targets | list[Target], references: list[dict[str, Any]] | None = None
    ) -> Iterator[Job]:
        cfg = self.cfg
        for ref in references or ():
            ct, port = ref["check_type"], ref["port"]
            if ct == "icmp" and not self.icmp_available:
                self._once(
                    "icmp-refs", "ICMP reference targets skipped: this probe may not send ICMP"
                )
                continue
            ip = ref["ip"]
            if ct == "http":
                scheme = {80: "http", 443: "https"}.get(port or 0, cfg.http_scheme)
                yield Job(ip, ct, port or self.http_port(), scheme, reference=ref)
            else:
                yield Job(ip, ct, None if ct == "icmp" else port or 443, reference=ref)
        for t in targets:
            for ct in cfg.check_types:
                if ct == "tcp":
                    for port in dict.fromkeys((t.ssh_port, *cfg.tcp_ports)):
                        yield Job(t.ip, ct, port, target=t)
                elif ct == "tls":
                    for port in cfg.tls_ports:
                        yield Job(t.ip, ct, port, target=t)
                elif ct == "http":
                    yield Job(t.ip, ct, self.http_port(), cfg.http_scheme, target=t)
                else:
                    yield Job(t.ip, ct, None, target=t)

    async def measure(self, http: httpx.AsyncClient, job: Job) -> checks.Outcome:
        cfg = self.cfg
        ip, ct, port = job.ip, job.check_type, job.port
        if ct == "icmp":
            return await self.pinger.ping(ip, cfg.icmp_timeout, cfg.icmp_count)
        if ct == "tcp":
            return await checks.tcp(ip, port or 22, cfg.tcp_timeout, cfg.data_probe)
        if ct == "tls":
            return await checks.tls(
                ip, port or 443, cfg.tcp_timeout, cfg.data_probe, self.tls_sessions
            )
        url = checks.http_url(ip, job.scheme or cfg.http_scheme, port)
        return await checks.http(http, url, cfg.http_timeout)

    def result(self, job: Job, o: checks.Outcome) -> dict[str, Any]:
        """A target's result as posted in the batch (a reference's as in the round report)."""
        now = datetime.now(UTC).isoformat()
        if job.reference is not None:
            return {
                "name": job.reference["name"],
                "ip": job.ip,
                "check_type": job.check_type,
                "port": job.port,
                "outcome": o.outcome,
                "latency_ms": o.latency_ms,
                "checked_at": now,
            }
        assert job.target is not None
        result = {
            "id": str(uuid.uuid4()),
            "vps_id": job.target.vps_id,
            "ip": job.ip,
            "check_type": job.check_type,
            "source": self.cfg.source,
            "success": o.success,
            "outcome": o.outcome,
            "latency_ms": o.latency_ms,
            "port": job.port,
            "checked_at": now,
        }
        if job.check_type == "icmp":
            result["loss_pct"] = o.loss_pct
            result["jitter_ms"] = o.jitter_ms
        return result

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
        references = await self.fetch_references()
        jobs = self.jobs(targets, references)
        batch: list[str] = []
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue()
        # Backpressure: a check starts only with a slot, given back when its result has been
        # posted (or spooled). A batch being posted and one being filled (or `concurrency`
        # checks under way, when more) is all there is, however slow the server is.
        size = self.cfg.batch_size
        slots = asyncio.Semaphore(size + max(size, self.cfg.concurrency))

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                try:
                    await self._send(item, stats)
                finally:
                    for _ in item:
                        slots.release()

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal batch
            while True:
                await slots.acquire()
                job = next(jobs, None)  # one shared iterator: each job is taken once
                if job is None:
                    slots.release()
                    return
                o = await self.measure(http, job)
                if job.reference is not None:
                    slots.release()
                    stats.references.append(self.result(job, o))
                    # as the server judges it: a control must reach every reference
                    answered = o.outcome in checks.HOST_UP_OUTCOMES
                    if answered == (self.cfg.control or job.reference["expect"] == "reachable"):
                        stats.as_expected += 1
                    continue
                stats.checks += 1
                stats.outcomes[o.outcome] = stats.outcomes.get(o.outcome, 0) + 1
                counts = stats.by_type.setdefault(job.check_type, [0, 0])
                if o.success:
                    stats.ok += 1
                    counts[0] += 1
                else:
                    stats.failed += 1
                    counts[1] += 1
                batch.append(_encode(self.result(job, o)))
                if len(batch) >= self.cfg.batch_size:
                    # no local name for the full batch: a worker's frame would hold it (and
                    # 300 workers as many batches) until that worker fills another
                    queue.put_nowait(batch)
                    batch = []

        self.pinger = checks.Pinger(self.icmp_privileged)
        self.tls_sessions = asyncio.Semaphore(checks.TLS_SESSIONS)
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
                pending: list[list[str] | None] = [batch]
                while not queue.empty():
                    pending.append(queue.get_nowait())
                for b in pending:
                    if b:
                        self._spool(b)
                raise
            if batch:
                queue.put_nowait(batch)
                batch = []
            queue.put_nowait(None)
            await send_task
        stats.seconds = time.perf_counter() - t0
        await self.report(stats)
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


def parse_references(data: Any) -> tuple[list[dict[str, Any]], int]:
    """The valid reference targets of the server's answer (at most MAX_REFERENCES), and how
    many were not valid. A ValueError when the answer is not a list."""
    if not isinstance(data, list):
        raise ValueError("not a list")
    refs: list[dict[str, Any]] = []
    bad = 0
    for item in data[:MAX_REFERENCES]:
        try:
            ip = str(ipaddress.ip_address(str(item["ip"]).strip()))
            ct = item["check_type"]
            port = item.get("port")
            expect = item.get("expect") or "reachable"
            if ct not in CHECK_TYPES or expect not in EXPECT:
                raise ValueError(ct)
            if port is not None and (
                isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
            ):
                raise ValueError(port)
            refs.append(
                {
                    "name": str(item.get("name") or ip)[:64],
                    "ip": ip,
                    "check_type": ct,
                    "port": None if ct == "icmp" else port,
                    "expect": expect,
                }
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            bad += 1
    return refs, bad + max(0, len(data) - MAX_REFERENCES)


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
            "sigma probe %s (%s) -> %s: %s every %gs, concurrency %d",
            cfg.source,
            ", ".join(
                x
                for x in (
                    f"carrier {cfg.carrier}" if cfg.carrier else "",
                    f"region {cfg.region}" if cfg.region else "",
                    "control" if cfg.control else "",
                    f"{cfg.icmp_count} pings" if "icmp" in cfg.check_types else "",
                    f"TLS ports {','.join(map(str, cfg.tls_ports))}"
                    if "tls" in cfg.check_types
                    else "",
                    "data probe" if cfg.data_probe else "no data probe",
                )
                if x
            ),
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
