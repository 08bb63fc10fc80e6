"""`sigma ip-check list|show|add|rm|summary|purge|status` (the original's `ip-checks
list|get|create|delete|summary|purge` are accepted too)."""

from typing import Any

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    confirm_or_yes,
    done,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
O = typer.Option  # noqa: E741

VERDICT_STYLE = {
    "ok": "green",
    "degraded": "yellow",
    "blocked": "bold red",
    "port-blocked": "bold red",
    "tls-blocked": "bold red",
    "down": "red",
    "unknown": "dim",
}
STATE_STYLE = {
    "ok": "green",
    "partial": "yellow",
    "fail": "red",
    "stale": "dim",
    "unhealthy": "dim",
}


def _result(ok: bool):
    from rich.text import Text

    return Text("ok", style="green") if ok else Text("FAIL", style="bold red")


COLUMNS = (
    ("ID", lambda c: c["id"][:8]),
    ("VPS", lambda c: c.get("_hostname") or c["vps_id"][:8]),
    ("IP", lambda c: c["ip"]),
    ("Type", lambda c: c["check_type"]),
    ("Source", lambda c: c["source"], "key"),
    ("Result", lambda c: _result(c["success"])),
    (
        "Latency",
        lambda c: f"{c['latency_ms']}ms" if c["latency_ms"] is not None else "-",
        "keep",
        1,
    ),
    ("Checked", lambda c: c["checked_at"][:19].replace("T", " "), "keep", 2),
)


def _vps_id(ctx: typer.Context, ref: str | None) -> str | None:
    if not ref:
        return None
    return str(state(ctx).backend.get_vps(ref).id)


def _hostnames(ctx: typer.Context, rows: list[dict[str, Any]]) -> None:
    from sigma.schemas.inventory import VpsFilter

    if not rows:
        return
    names = {str(v.id): v.hostname for v in state(ctx).backend.all_vps(VpsFilter())}
    for r in rows:
        r["_hostname"] = names.get(r["vps_id"], "")


@app.command("list")
def list_(
    ctx: typer.Context,
    vps: str = O(None, "--vps", "--vps-id", help="Only this VPS (id, prefix or hostname)."),
    ip: str = O(None, "--ip", help="Only this IP address."),
    source: str = O(None, "--source", help="Only this probe source, e.g. cn-beijing."),
    check_type: str = O(None, "--check-type", "--type", help="icmp, tcp or http."),
    success: str = O(None, "--success", help="true or false."),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List IP checks, newest first. A table shows one page; -q, json, yaml and csv give
    every matching check unless --page or --per-page asks for a page.

    Example: sigma ip-check list --vps hk-exit-01 --source cn-beijing --success false
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.monitoring import IpCheck, IpCheckFilter

    fmt = check_format(fmt)
    values = dict(
        vps_id=_vps_id(ctx, vps), ip=ip, source=source, check_type=check_type, success=success
    )
    values = {k: v for k, v in values.items() if v is not None}
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.list_ip_checks(
            validate(IpCheckFilter, {**values, "page": n, "per_page": size})
        ),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="checks",
    )
    rows = [c.model_dump(mode="json") for c in items]
    if fmt == "table" and not quiet:
        _hostnames(ctx, rows)
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=list(IpCheck.model_fields))


@app.command("show")
def show(
    ctx: typer.Context,
    check_id: str = typer.Argument(..., help="Check id (UUID)."),
    fmt: str = FormatOption,
) -> None:
    """Show one IP check.

    Example: sigma ip-check show 0b6f1c2e-5d7a-4f3e-9a1b-2c3d4e5f6a7b
    """
    from sigma.output import emit

    emit(state(ctx).backend.get_ip_check(check_id).model_dump(mode="json"), fmt)


app.command("get", hidden=True)(show)


@app.command("add")
def add(
    ctx: typer.Context,
    vps: str = O(..., "--vps", "--vps-id", help="VPS id, prefix or hostname."),
    ip: str = O(..., "--ip", help="The IP address checked."),
    success: bool = O(
        False,
        "--success/--fail",
        help="The check succeeded (--success) or failed (--fail, default).",
    ),
    check_type: str = O("icmp", "--check-type", "--type", help="icmp, tcp or http."),
    source: str = O("", "--source", help="Where it was checked from, e.g. cn-beijing."),
    latency_ms: int = O(None, "--latency-ms", help="Round trip in milliseconds."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Record one check by hand (probes post batches themselves).

    Example: sigma ip-check add --vps hk-exit-01 --ip 103.1.2.3 --success --check-type tcp
    --source cn-beijing --latency-ms 48
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.monitoring import IpCheckCreate

    data = validate(
        IpCheckCreate,
        {
            "vps_id": _vps_id(ctx, vps),
            "ip": ip,
            "success": success,
            "check_type": check_type,
            "source": source,
            "latency_ms": latency_ms,
        },
    )
    c = state(ctx).backend.create_ip_check(data).model_dump(mode="json")
    if quiet or fmt != "table":
        emit(c, fmt, quiet=quiet)
    else:
        done(
            f"Recorded check {c['id']} - {c['check_type']} {c['ip']} from {c['source'] or '-'} -> "
            f"{'ok' if c['success'] else 'FAIL'}"
        )


app.command("create", hidden=True)(add)


@app.command("rm")
def rm(
    ctx: typer.Context, check_ids: list[str] = typer.Argument(..., help="Check ids (UUID).")
) -> None:
    """Delete IP checks.

    Example: sigma ip-check rm 0b6f1c2e-5d7a-4f3e-9a1b-2c3d4e5f6a7b
    """
    backend = state(ctx).backend
    for check_id in check_ids:
        c = backend.delete_ip_check(check_id)
        done(f"Deleted check {c.id}")


app.command("delete", hidden=True)(rm)


@app.command("summary")
def summary(
    ctx: typer.Context,
    vps: str = O(None, "--vps", "--vps-id", help="Only this VPS (id, prefix or hostname)."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Success rate and latency per (VPS, IP), most recently checked first.

    Example: sigma ip-check summary --vps hk-exit-01
    """
    from sigma.output import emit
    from sigma.schemas.monitoring import IpCheckSummary

    rows = [
        s.model_dump(mode="json") for s in state(ctx).backend.ip_check_summary(_vps_id(ctx, vps))
    ]
    if fmt == "table" and not quiet:
        _hostnames(ctx, rows)
    emit(
        rows,
        fmt,
        quiet=quiet,
        columns=(
            ("VPS", lambda s: s.get("_hostname") or s["vps_id"][:8]),
            ("IP", lambda s: s["ip"]),
            ("Total", lambda s: s["total_checks"]),
            ("Success", lambda s: f"{s['success_count']}/{s['total_checks']}"),
            ("Rate", lambda s: f"{s['success_rate']:.1f}%"),
            (
                "Avg Lat",
                lambda s: (
                    f"{s['avg_latency_ms']:.1f}ms" if s["avg_latency_ms"] is not None else "-"
                ),
            ),
            ("Last", lambda s: _result(s["last_success"])),
            ("Last Check", lambda s: s["last_check"]),
        ),
        fields=list(IpCheckSummary.model_fields),
    )


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than_days: int = O(
        ..., "--older-than-days", help="Delete checks older than this many days."
    ),
    yes: bool = O(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete old checks.

    Example: sigma ip-check purge --older-than-days 30 --yes
    """
    confirm_or_yes(f"Delete every IP check older than {older_than_days} days?", yes)
    result = state(ctx).backend.purge_ip_checks(older_than_days)
    done(f"Purged {result.deleted} checks older than {older_than_days} days")


@app.command("status")
def status(
    ctx: typer.Context,
    vps: str = O(None, "--vps", help="Only this VPS (id, prefix or hostname)."),
    verdict: str = O(
        None,
        "--verdict",
        help="Only ok, degraded, blocked, port-blocked, tls-blocked, down or unknown.",
    ),
    all_: bool = O(False, "--all", help="Include VPS that are not active."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Reachability matrix: one row per IP, one column per probe source, the verdict and why.

    A cell is ok (green), partial (yellow: some checks fail), FAIL xN (red: every check
    failing N rounds in a row), stale (dim: nothing heard for an hour) or unhealthy (dim: the
    probe's reference targets disagree, its view is ignored). Whether a source is inside
    China or a control comes from the probe registry (`sigma probe list`). blocked = failing
    from the sources inside China while a control reaches it; port-blocked / tls-blocked =
    the host answers from China but not on some ports / TLS handshakes; down = failing
    everywhere. "Why" gives the carriers affected and how many sources agree (n/m).

    Example: sigma ip-check status --verdict blocked
    """
    from sigma.output import Column, check_format, emit

    check_format(fmt)
    rows = [
        r.model_dump(mode="json")
        for r in state(ctx).backend.reachability_status(vps, verdict, all_)
    ]
    sources: list[str] = []
    for r in rows:
        for s in r["sources"]:
            if s not in sources:
                sources.append(s)
    china = {s: v["china"] for r in rows for s, v in r["sources"].items()}
    sources.sort(key=lambda s: (not china.get(s), s))
    columns: list[Column] = [
        ("VPS", lambda r: r["hostname"]),
        ("IP", lambda r: r["ip"]),
        ("Label", lambda r: _label(r["label"]), "keep", 2),
        *[(s, _cell(s)) for s in sources],
        ("Verdict", lambda r: _verdict(r["verdict"])),
        ("Why", _why, "text", 3),
        ("Since", lambda r: r["since"][:16].replace("T", " "), "keep", 1),
    ]
    from sigma.schemas.monitoring import ReachabilityStatus

    fields = list(ReachabilityStatus.model_fields)
    emit(rows, fmt, quiet=quiet, columns=columns, fields=fields)


@app.command("history")
def history(
    ctx: typer.Context,
    ip: str = typer.Argument(None, help="The IP address [default: the whole fleet]."),
    source: str = O(None, "--source", help="Only this probe source."),
    check: str = O(None, "--check", help="Only this check: icmp, tcp:22, tls:443, http:80."),
    since: str = O(
        None, "--since", help="From: RFC 3339, a date, or ago: 30m, 24h, 7d [default: 24h]."
    ),
    until: str = O(None, "--until", help="Until: RFC 3339 or a date [default: now]."),
    resolution: str = O(
        "auto", "--resolution", help="auto, raw, 5m, 1h or 6h (auto: by the span asked for)."
    ),
    fmt: str = FormatOption,
) -> None:
    """How one IP's reachability evolved, per probe source and check (inside China first):
    per raw check or 5-minute, hourly or 6-hour bucket, the share of checks that passed,
    latency (avg, min-max), ICMP loss and the failures by outcome. Without an IP: the whole
    fleet, every IP summed per source (how each carrier sees the fleet). Raw checks are kept
    2 days, 5-minute sums 30 days, hourly and 6-hour sums a year (settings ip_check_*_days).

    Examples:
      sigma ip-check history 103.1.2.3 --since 7d --check tcp:22
      sigma ip-check history --since 30d --check icmp       # the fleet, per carrier
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.monitoring import CheckHistoryQuery, FleetHistoryQuery

    fmt = check_format(fmt)
    raw = {
        "ip": ip,
        "source": source,
        "check": check,
        "since": since,
        "until": until,
        "resolution": resolution,
    }
    given = {k: v for k, v in raw.items() if v is not None}
    backend = state(ctx).backend
    if ip is None:
        fleet = backend.ip_check_fleet_history(validate(FleetHistoryQuery, given))
        h = {"ip": "the fleet", **fleet.model_dump(mode="json")}
    else:
        h = backend.ip_check_history(validate(CheckHistoryQuery, given)).model_dump(mode="json")
    if fmt in ("json", "yaml"):
        emit(h, fmt)
        return
    rows = [
        {"source": s["source"], "carrier": s["carrier"], "check": s["check"], **p}
        for s in h["series"]
        for p in s["points"]
    ]
    emit(
        rows,
        fmt,
        columns=(
            ("Time", lambda r: r["t"][:16].replace("T", " ")),
            (
                "Source",
                lambda r: r["source"] + (f" ({r['carrier']})" if r["carrier"] else ""),
                "key",
            ),
            ("Check", lambda r: r["check"]),
            ("Checks", lambda r: r["checks"]),
            ("OK %", lambda r: f"{r['ok_pct']:g}"),
            ("Latency ms", _latency),
            ("Loss %", lambda r: "" if r["loss_pct"] is None else f"{r['loss_pct']:g}"),
            ("Failures", _failures, "text", 1),
        ),
        footer=f"{h['ip']}: {len(h['series'])} series, {h['resolution']} points "
        f"from {h['since'][:16].replace('T', ' ')} to {h['until'][:16].replace('T', ' ')}",
        fields=[
            "t",
            "source",
            "carrier",
            "check",
            "checks",
            "ok_pct",
            "up_pct",
            "latency_avg",
            "latency_min",
            "latency_max",
            "loss_pct",
            "outcomes",
        ],
    )


@app.command("alerts")
def alerts(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """Latency and loss alerts firing now: per VPS, IP and carrier, the average over the
    alert window (setting alert_window_minutes) above its threshold, the oldest first.
    Firing and recovering are also events of the VPS's timeline and notices.

    Example: sigma ip-check alerts --format json
    """
    from sigma.output import check_format, emit
    from sigma.schemas.monitoring import ReachAlertOut

    fmt = check_format(fmt)
    rows = [a.model_dump(mode="json") for a in state(ctx).backend.reach_alerts()]
    emit(
        rows,
        fmt,
        columns=(
            ("VPS", lambda a: a["hostname"], "key"),
            ("IP", lambda a: a["ip"]),
            ("Carrier", lambda a: a["carrier"]),
            ("Alert", lambda a: _alert(a)),
            ("Since", lambda a: a["since"][:16].replace("T", " ")),
        ),
        fields=list(ReachAlertOut.model_fields),
    )


def _alert(a: dict[str, Any]) -> str:
    unit = " ms" if a["metric"] == "latency" else " %"
    return f"{a['metric']} {a['value']:g}{unit} > {a['threshold']:g}{unit}"


@app.command("thresholds")
def thresholds(
    ctx: typer.Context,
    vps: str = typer.Argument(..., help="VPS id, id prefix or hostname."),
    latency_ms: int = O(None, "--latency-ms", help="This VPS's latency threshold (0: none)."),
    loss_pct: float = O(None, "--loss-pct", help="This VPS's ICMP loss threshold in % (0: none)."),
    clear: bool = O(False, "--clear", help="Back to the settings' thresholds."),
    fmt: str = FormatOption,
) -> None:
    """Show or set a VPS's own latency and loss alert thresholds, over the settings'
    alert_latency_ms and alert_loss_pct (per carrier). Without options: show them.

    Example: sigma ip-check thresholds hk-exit-01 --latency-ms 400 --loss-pct 10
    """
    from sigma.errors import InvalidInput
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.monitoring import ReachThresholdsIn

    backend = state(ctx).backend
    if clear and (latency_ms is not None or loss_pct is not None):
        raise InvalidInput("clear: give --clear alone, or the thresholds to set", field="clear")
    if clear or latency_ms is not None or loss_pct is not None:
        current = backend.alert_thresholds(vps)
        data = validate(
            ReachThresholdsIn,
            {}
            if clear
            else {
                "latency_ms": current.latency_ms if latency_ms is None else latency_ms,
                "loss_pct": current.loss_pct if loss_pct is None else loss_pct,
            },
        )
        result = backend.set_alert_thresholds(vps, data)
    else:
        result = backend.alert_thresholds(vps)
    t = result.model_dump(mode="json")
    if fmt != "table":
        emit(t, fmt)
        return

    def line(own: Any, defaults: dict[str, int], unit: str) -> str:
        rest = ", ".join(f"{k} {v}{unit}" for k, v in defaults.items())
        return f"{own}{unit} (this VPS)" if own is not None else f"settings: {rest}"

    typer.echo(f"{t['hostname']}")
    typer.echo(f"  latency: {line(t['latency_ms'], t['defaults']['latency_ms'], ' ms')}")
    typer.echo(f"  loss:    {line(t['loss_pct'], t['defaults']['loss_pct'], ' %')}")


def _latency(r: dict[str, Any]) -> str:
    if r["latency_avg"] is None:
        return ""
    if r["checks"] == 1 or r["latency_min"] == r["latency_max"]:
        return f"{r['latency_avg']:g}"
    return f"{r['latency_avg']:g} ({r['latency_min']}-{r['latency_max']})"


def _failures(r: dict[str, Any]) -> str:
    return ", ".join(f"{o} {n}" for o, n in r["outcomes"].items() if o not in ("ok", "http_error"))


def _why(r: dict[str, Any]) -> str:
    """The verdict's carriers (or sources), checks and agreement, in a few words."""
    d = r.get("detail")
    if not d or r["verdict"] in ("ok", "unknown"):
        return ""
    where = ",".join(d["carriers"] or d["sources"])
    checks = f" {','.join(d['checks'])}" if d["checks"] else ""
    return f"{where}{checks} {d['agree']}/{d['of']}".strip()


def _label(label: str) -> str:
    from sigma.vocab import IP_LABEL_SHORT

    return IP_LABEL_SHORT.get(label, label)


def _verdict(v: str):
    from rich.text import Text

    return Text(v, style=VERDICT_STYLE.get(v, ""))


def _cell(source: str):
    def render(r: dict[str, Any]):
        from rich.text import Text

        s = r["sources"].get(source)
        if s is None:
            return Text("-", style="dim")
        text = {
            "ok": "ok",
            "partial": "partial",
            "fail": f"FAIL x{s['fails']}",
            "stale": "stale",
            "unhealthy": "unhealthy",
        }.get(s["state"], s["state"])
        if s["state"] in ("ok", "partial") and s.get("latency_ms") is not None:
            text += f" {s['latency_ms']}ms"
        return Text(text, style=STATE_STYLE.get(s["state"], ""))

    return render
