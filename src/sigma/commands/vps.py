"""`sigma vps add|list|show|edit|retire|rm|history|duplicates|merge|trash|restore|renew|
renewals|replace` (plus the original's `create|get|update|delete`)."""

from collections.abc import Sequence
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

# -------------------------------------------------------------- shared options

O = typer.Option
IP_HELP = (
    "IP address, optionally with a label: 1.2.3.4=china-telecom, 2001:db8::1=overseas. Repeatable."
)


def _ip_spec(spec: str) -> dict[str, str]:
    from sigma.vocab import IP_LABEL_ALIASES, IP_LABELS

    ip, sep, label = spec.partition("=")
    if not sep and ":" in spec and not _is_ip(spec):
        # the original CLI's IP:label form, recognised only when the suffix is a label name
        # and the whole is not an address already (2001:db8::ac ends in the code for anycast)
        head, _, tail = spec.rpartition(":")
        if tail.lower() in IP_LABELS or tail.lower() in IP_LABEL_ALIASES:
            ip, label = head, tail
    return {"ip": ip, "label": label}


def _is_ip(text: str) -> bool:
    from sigma.schemas.common import parse_ip

    try:
        parse_ip(text)
    except ValueError:
        return False
    return True


def _extra(pairs: list[str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    import json  # not at the top: every `sigma` start imports this module

    from sigma.errors import InvalidInput

    out = dict(base or {})
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"extra: '{pair}' is not KEY=VALUE", field="extra")
        if raw == "":
            out.pop(key.strip(), None)
            continue
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def _values(ctx: typer.Context, **opts: Any) -> dict[str, Any]:
    """Map CLI options to schema fields; None means 'not given'. '' clears nullable fields."""
    values: dict[str, Any] = {}
    for key, value in opts.items():
        if value is None or (isinstance(value, list) and not value):
            continue
        values[key] = value
    if "provider" in values:
        ref = values.pop("provider")
        values["provider_id"] = str(state(ctx).backend.get_provider(ref).id) if ref else None
    if "ip_addresses" in values:
        values["ip_addresses"] = [_ip_spec(s) for s in values["ip_addresses"]]
    if "monitoring_enabled_str" in values:
        values["monitoring_enabled"] = values.pop("monitoring_enabled_str")
    return values


COLUMNS = (
    # (header, cell, how it fits a narrow terminal, which is hidden first: output.py)
    ("ID", lambda v: v["id"][:8], "keep"),
    ("Hostname", lambda v: v["hostname"] + (f" ({v['alias']})" if v["alias"] else ""), "key"),
    ("IPs", lambda v: _ips(v["ip_addresses"]), "key", 3),
    ("Country", lambda v: v["country"], "keep", 5),
    ("Provider", lambda v: v.get("provider_name") or "", "text", 6),
    ("Status", lambda v: _status(v["status"]), "keep"),
    ("Agent", lambda v: _agent(v), "keep", 7),
    ("Purpose", lambda v: v["purpose"], "keep", 8),
    ("Cost", lambda v: _cost(v), "keep", 4),
    ("Expires", lambda v: _expires(v["expire_date"]), "keep", 2),
    ("Tags", lambda v: ", ".join(v["tags"]), "text", 9),
)


def _cost(v: dict[str, Any]) -> str:
    return f"{v['cost_monthly']} {v['currency']}" if v["cost_monthly"] else ""


def _ips(entries: list[dict[str, str]]) -> str:
    from sigma.vocab import IP_LABEL_SHORT

    return "\n".join(
        e["ip"] + (f" {IP_LABEL_SHORT.get(e['label'], e['label'])}" if e.get("label") else "")
        for e in entries
    )


def _status(status: str):
    from sigma.output import Styled

    style = {
        "active": "green",
        "provisioning": "cyan",
        "retiring": "yellow",
        "retired": "dim",
        "suspended": "red",
    }
    return Styled(status, style.get(status, ""))


def _expires(expire: str | None):
    from sigma.output import days_left

    return days_left(expire)


SHOW_COLUMNS = (
    ("provider_id", lambda v: _provider(v)),
    ("ip_addresses", lambda v: _ips(v["ip_addresses"]) or "-"),
    ("expire_date", lambda v: _expires(v["expire_date"]) if v["expire_date"] else "-"),
    ("status", lambda v: _status(v["status"])),
    ("online", lambda v: _agent(v) or "-"),
    (
        "traffic_quota_gb",
        lambda v: (
            "-"
            if v.get("traffic_quota_gb") is None
            else f"{v['traffic_quota_gb']} GB per period from day {v.get('traffic_reset_day', 1)} "
            f"({v.get('traffic_direction', 'sum')})"
        ),
    ),
    ("traffic", lambda v: _traffic(v.get("traffic"))),
)


def _traffic(t: dict[str, Any] | None) -> str:
    """This period's traffic: used / quota (share), in and out, the projection to its end."""
    from sigma.vocab import data_size as size

    if not t:
        return "-"
    line = size(t["used_bytes"])
    if t.get("quota_bytes") is not None:
        line += f" / {size(t['quota_bytes'])} ({t['percent']:.1f} %)"
    line += f" from {t['period_start']} to {t['period_end']}"
    line += f"\nin {size(t['bytes_in'])}, out {size(t['bytes_out'])}"
    if t.get("projected_bytes") is not None:
        line += f"\nprojected {size(t['projected_bytes'])}"
        if t.get("projected_percent") is not None:
            line += f" ({t['projected_percent']:.0f} % of the quota)"
        line += f" by {t['period_end']}"
    return line


def _warn(warnings: Sequence[str]) -> None:
    """What the server accepted but flags (a hostname or IP another VPS also has), on stderr."""
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def _provider(v: dict[str, Any]) -> str:
    if not v["provider_id"]:
        return "-"
    name = v.get("provider_name")
    return f"{name} ({v['provider_id']})" if name else v["provider_id"]


def _agent(v: dict[str, Any]):
    """online (green) / offline for how long (red) from the last heartbeat; blank: no agent."""
    from sigma.commands.agent import liveness

    return liveness(v)


# -------------------------------------------------------------- commands


@app.command("add")
def add(
    ctx: typer.Context,
    hostname: str = typer.Argument(None, help="Hostname of the VPS.", show_default=False),
    hostname_opt: str = O(None, "--hostname", hidden=True),
    provider: str = O(None, "--provider", "--provider-id", help="Provider id, id prefix or name."),
    alias: str = O(None, "--alias", help="Human-friendly alias."),
    ip: list[str] = O(None, "--ip", help=IP_HELP),
    ssh_port: str = O(None, "--ssh-port", help="SSH port [default: 22]."),
    country: str = O(None, "--country", help="Two-letter country code, e.g. HK."),
    city: str = O(None, "--city", help="City."),
    dc_name: str = O(None, "--dc", "--dc-name", help="Data centre name."),
    cpu_cores: str = O(None, "--cpu", "--cpu-cores", help="CPU cores."),
    ram_mb: str = O(None, "--ram-mb", help="RAM in MB."),
    disk_gb: str = O(None, "--disk-gb", help="Disk in GB."),
    bandwidth_tb: str = O(None, "--bandwidth-tb", help="Monthly traffic in TB, e.g. 2.5."),
    cost_monthly: str = O(
        None, "--cost", "--cost-monthly", help="Monthly cost, exact decimal, e.g. 15.99."
    ),
    currency: str = O(None, "--currency", help="Three-letter currency code [default: USD]."),
    status: str = O(None, "--status", help="provisioning, active, retiring, retired or suspended."),
    purpose: str = O(
        None, "--purpose", help="vpn-exit, vpn-relay, vpn-entry, monitor, management or other."
    ),
    vpn_protocol: str = O(None, "--vpn-protocol", help="e.g. wireguard, xray."),
    tag: list[str] = O(None, "--tag", help="Tag (repeatable)."),
    purchase_date: str = O(None, "--purchase-date", help="YYYY-MM-DD."),
    expire_date: str = O(None, "--expire-date", help="YYYY-MM-DD."),
    monitoring: bool = O(
        None, "--monitoring/--no-monitoring", help="Scrape with Prometheus [default: on]."
    ),
    monitoring_enabled: str = O(None, "--monitoring-enabled", hidden=True),
    node_exporter_port: str = O(
        None, "--node-exporter-port", help="node_exporter port [default: 9100]."
    ),
    extra: list[str] = O(
        None, "--extra", help="KEY=VALUE stored in extra (VALUE parsed as JSON if it is)."
    ),
    notes: str = O(None, "--notes", help="Free text."),
    billing_cycle: str = O(
        None,
        "--billing-cycle",
        help="Renewal cycle: monthly, quarterly, semi-annual, yearly or days such as 45d"
        " [default: monthly].",
    ),
    auto_renew: bool = O(
        None,
        "--auto-renew/--no-auto-renew",
        help="Move a passed expiry forward by itself, cycle by cycle [default: off].",
    ),
    traffic_quota_gb: str = O(
        None,
        "--traffic-quota",
        "--traffic-quota-gb",
        help="Traffic allowed per billing period, in GB of 10^9 bytes.",
    ),
    traffic_direction: str = O(
        None,
        "--traffic-direction",
        help="What the quota counts: out, in, sum or max (the larger) [default: sum].",
    ),
    traffic_reset_day: str = O(
        None,
        "--traffic-reset-day",
        help="Day of the month (1-28) each traffic period starts [default: 1].",
    ),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Add a VPS to the inventory.

    Example: sigma vps add hk-exit-01 --provider DMIT --ip 103.1.2.3=china-telecom
    --ip 2001:db8::1=overseas --country HK --cost 15.99 --expire-date 2026-12-25 --tag cn-optimized
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.inventory import VpsCreate

    values = _values(
        ctx,
        provider=provider,
        alias=alias,
        ip_addresses=ip,
        ssh_port=ssh_port,
        country=country,
        city=city,
        dc_name=dc_name,
        cpu_cores=cpu_cores,
        ram_mb=ram_mb,
        disk_gb=disk_gb,
        bandwidth_tb=bandwidth_tb,
        cost_monthly=cost_monthly,
        currency=currency,
        status=status,
        purpose=purpose,
        vpn_protocol=vpn_protocol,
        tags=tag,
        purchase_date=purchase_date,
        expire_date=expire_date,
        monitoring_enabled=monitoring,
        monitoring_enabled_str=monitoring_enabled,
        node_exporter_port=node_exporter_port,
        notes=notes,
        billing_cycle=billing_cycle,
        auto_renew=auto_renew,
        traffic_quota_gb=traffic_quota_gb,
        traffic_direction=traffic_direction,
        traffic_reset_day=traffic_reset_day,
    )
    if extra:
        values["extra"] = _extra(extra)
    values["hostname"] = hostname if hostname is not None else hostname_opt
    data = validate(VpsCreate, values)
    created = state(ctx).backend.create_vps(data)
    _warn(created._warnings)
    v = created.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(v, fmt, quiet=quiet)
    else:
        done(f"Created VPS {v['hostname']} ({v['id']})")


app.command("create", hidden=True)(add)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = O(None, "--status", help="Only this status."),
    country: str = O(None, "--country", help="Only this country code."),
    provider: str = O(
        None, "--provider", "--provider-id", help="Only this provider (id, prefix or name)."
    ),
    purpose: str = O(None, "--purpose", help="Only this purpose."),
    tag: list[str] = O(None, "--tag", help="Must have this tag (repeatable: all of them)."),
    expiring_within: int = O(
        None,
        "--expiring-within",
        "--expiring",
        help="Expiring within DAYS (overdue included).",
        metavar="DAYS",
    ),
    search: str = O(None, "--search", "-s", help="Text in hostname or alias."),
    ip: str = O(None, "--ip", help="Exact IP address."),
    over_quota: str = O(
        None,
        "--over-quota",
        metavar="PCT",
        help="Traffic this billing period at least PCT % of the quota (VPS with a quota).",
    ),
    sort: str = O(
        None,
        "--sort",
        metavar="FIELD[:desc]",
        help="Order by hostname, country, provider, status, cost, expiry or created; "
        "append :desc to reverse [default: status, expiry, hostname].",
    ),
    page: int = O(
        None,
        "--page",
        min=1,
        help="Page number, from 1 [default: 1 in a table; every row otherwise].",
    ),
    per_page: int = O(
        None, "--per-page", min=1, max=100, help="Rows per page, 1-100 [default: 25]."
    ),
    all_: bool = O(False, "--all", help="Every matching VPS, ignoring pagination."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List VPS, by status, then expiry date, then hostname. A table shows one page; -q,
    json, yaml and csv give every matching VPS unless --page or --per-page asks for a page.

    Example: sigma vps list --status active --tag cn-optimized --expiring-within 7
    """
    from sigma.output import check_format, emit
    from sigma.vocab import VPS_FIELDS

    fmt = check_format(fmt)
    query: dict[str, Any] = {
        k: v
        for k, v in dict(
            status=status,
            country=country,
            provider=provider,
            purpose=purpose,
            tag=tag or None,
            expiring_within_days=expiring_within,
            search=search,
            ip=ip,
            over_quota=over_quota,
            sort=sort,
            page=page or 1,
            per_page=per_page or 25,
        ).items()
        if v is not None
    }
    every = all_ or ((quiet or fmt != "table") and page is None and per_page is None)
    result = state(ctx).backend.vps_rows(query, all_pages=every)
    rows = result["data"]
    if every:
        footer = f"{len(rows)} VPS"
    else:
        pages = max(1, -(-result["total"] // result["per_page"]))
        footer = f"Page {result['page']} of {pages} ({result['total']} total)"
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=VPS_FIELDS)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="VPS id, id prefix or hostname."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Show every field of one VPS.

    Example: sigma vps show hk-exit-01 --format json
    """
    from sigma.output import emit

    v = state(ctx).backend.get_vps(ref).model_dump(mode="json")
    emit(v, fmt, columns=SHOW_COLUMNS, quiet=quiet)


app.command("get", hidden=True)(show)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="VPS id, id prefix or hostname."),
    hostname: str = O(None, "--hostname", help="New hostname."),
    provider: str = O(
        None, "--provider", "--provider-id", help="Provider id, prefix or name ('' unsets it)."
    ),
    alias: str = O(None, "--alias", help="Alias."),
    ip: list[str] = O(None, "--ip", help="Replace all IPs (repeatable). " + IP_HELP),
    add_ip: list[str] = O(
        None, "--add-ip", help="Add an IP (IP or IP=LABEL; an existing IP gets the new label)."
    ),
    remove_ip: list[str] = O(None, "--remove-ip", help="Remove an IP."),
    ssh_port: str = O(None, "--ssh-port", help="SSH port."),
    country: str = O(None, "--country", help="Two-letter country code."),
    city: str = O(None, "--city", help="City."),
    dc_name: str = O(None, "--dc", "--dc-name", help="Data centre name."),
    cpu_cores: str = O(None, "--cpu", "--cpu-cores", help="CPU cores ('' clears)."),
    ram_mb: str = O(None, "--ram-mb", help="RAM in MB ('' clears)."),
    disk_gb: str = O(None, "--disk-gb", help="Disk in GB ('' clears)."),
    bandwidth_tb: str = O(None, "--bandwidth-tb", help="Traffic in TB ('' clears)."),
    cost_monthly: str = O(None, "--cost", "--cost-monthly", help="Monthly cost ('' clears)."),
    currency: str = O(None, "--currency", help="Currency code."),
    status: str = O(None, "--status", help="New status."),
    purpose: str = O(None, "--purpose", help="New purpose ('' clears)."),
    vpn_protocol: str = O(None, "--vpn-protocol", help="VPN protocol."),
    tag: list[str] = O(None, "--tag", help="Replace all tags (repeatable)."),
    add_tag: list[str] = O(None, "--add-tag", help="Add a tag."),
    remove_tag: list[str] = O(None, "--remove-tag", help="Remove a tag."),
    purchase_date: str = O(None, "--purchase-date", help="YYYY-MM-DD ('' clears)."),
    expire_date: str = O(None, "--expire-date", help="YYYY-MM-DD ('' clears)."),
    monitoring: bool = O(None, "--monitoring/--no-monitoring", help="Scrape with Prometheus."),
    monitoring_enabled: str = O(None, "--monitoring-enabled", hidden=True),
    node_exporter_port: str = O(None, "--node-exporter-port", help="node_exporter port."),
    extra: list[str] = O(None, "--extra", help="KEY=VALUE merged into extra; KEY= removes KEY."),
    notes: str = O(None, "--notes", help="Free text."),
    billing_cycle: str = O(
        None,
        "--billing-cycle",
        help="Renewal cycle: monthly, quarterly, semi-annual, yearly or days such as 45d.",
    ),
    auto_renew: bool = O(
        None,
        "--auto-renew/--no-auto-renew",
        help="Move a passed expiry forward by itself, cycle by cycle.",
    ),
    traffic_quota_gb: str = O(
        None,
        "--traffic-quota",
        "--traffic-quota-gb",
        help="Traffic allowed per billing period, in GB of 10^9 bytes ('' clears).",
    ),
    traffic_direction: str = O(
        None,
        "--traffic-direction",
        help="What the quota counts: out, in, sum or max (the larger).",
    ),
    traffic_reset_day: str = O(
        None,
        "--traffic-reset-day",
        help="Day of the month (1-28) each traffic period starts.",
    ),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Change some fields of a VPS; the others are kept.

    Example: sigma vps edit hk-exit-01 --add-ip 2001:db8::2=overseas --remove-tag old
    --expire-date 2027-01-25
    """
    from sigma.errors import InvalidInput
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.inventory import VpsUpdate

    backend = state(ctx).backend
    values = _values(
        ctx,
        hostname=hostname,
        provider=provider,
        alias=alias,
        ip_addresses=ip,
        ssh_port=ssh_port,
        country=country,
        city=city,
        dc_name=dc_name,
        cpu_cores=cpu_cores,
        ram_mb=ram_mb,
        disk_gb=disk_gb,
        bandwidth_tb=bandwidth_tb,
        cost_monthly=cost_monthly,
        currency=currency,
        status=status,
        purpose=purpose,
        vpn_protocol=vpn_protocol,
        tags=tag,
        purchase_date=purchase_date,
        expire_date=expire_date,
        monitoring_enabled=monitoring,
        monitoring_enabled_str=monitoring_enabled,
        node_exporter_port=node_exporter_port,
        notes=notes,
        billing_cycle=billing_cycle,
        auto_renew=auto_renew,
        traffic_quota_gb=traffic_quota_gb,
        traffic_direction=traffic_direction,
        traffic_reset_day=traffic_reset_day,
    )
    for nullable in (
        "cpu_cores",
        "ram_mb",
        "disk_gb",
        "bandwidth_tb",
        "cost_monthly",
        "purchase_date",
        "expire_date",
        "traffic_quota_gb",
    ):
        if values.get(nullable) == "":
            values[nullable] = None
    current = None
    if add_ip or remove_ip or add_tag or remove_tag or extra:
        current = backend.get_vps(ref)
        ref = str(current.id)
    # below, `current` is set: every one of these options fetched it above
    if current is not None and (add_ip or remove_ip):
        from sigma.schemas.common import parse_ip

        entries = values.get("ip_addresses") or [e.model_dump() for e in current.ip_addresses]
        try:
            drop = {parse_ip(s) for s in remove_ip or []}
        except ValueError as exc:
            raise InvalidInput(f"remove_ip: {exc}", field="remove_ip") from None
        missing = drop - {e["ip"] for e in entries}
        if missing:
            raise InvalidInput(
                f"remove_ip: {', '.join(sorted(missing))} is not on this VPS", field="remove_ip"
            )
        entries = [e for e in entries if e["ip"] not in drop]
        for spec in add_ip or []:
            new = _ip_spec(spec)
            try:
                new_ip = parse_ip(new["ip"])
            except ValueError as exc:
                raise InvalidInput(f"add_ip: {exc}", field="add_ip") from None
            entries = [e for e in entries if e["ip"] != new_ip] + [new]
        values["ip_addresses"] = entries
    if current is not None and (add_tag or remove_tag):
        tags = values.get("tags") or list(current.tags)
        gone = {t.strip() for t in remove_tag or []}  # tags are stored trimmed, as --add-tag's are
        missing = gone - set(tags)
        if missing:
            raise InvalidInput(
                f"remove_tag: {', '.join(sorted(missing))} is not a tag of this VPS",
                field="remove_tag",
            )
        tags = [t for t in tags if t not in gone] + list(add_tag or [])
        values["tags"] = tags
    if current is not None and extra:
        values["extra"] = _extra(extra, current.extra)
    if not values:
        raise InvalidInput("nothing to change: give at least one option (see --help)")
    data = validate(VpsUpdate, values)
    # a read-modify-write (add/remove IPs, tags, extra) must not overwrite a concurrent change
    updated = backend.update_vps(ref, data, current._version if current else None)
    _warn(updated._warnings)
    v = updated.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(v, fmt, quiet=quiet)
    else:
        done(f"Updated VPS {v['hostname']} ({v['id']})")


app.command("update", hidden=True)(edit)


@app.command("retire")
def retire(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="VPS ids, id prefixes or hostnames."),
) -> None:
    """Retire VPS: status retired, monitoring off, retired_at recorded. Idempotent.

    Example: sigma vps retire hk-exit-01 jp-relay-02
    """
    backend = state(ctx).backend
    targets = [backend.get_vps(r) for r in refs]
    for v in targets:
        backend.retire_vps(v.id)
        done(f"Retired VPS {v.hostname} ({v.id})")


@app.command("rm")
def rm(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="VPS ids, id prefixes or hostnames."),
    yes: bool = O(False, "--yes", "-y", help="Do not ask for confirmation."),
    purge: bool = O(
        False,
        "--purge",
        help="Delete for good, from the trash or at once (admins); the history stays.",
    ),
) -> None:
    """Move VPS to the trash: hidden everywhere, restorable with `sigma vps restore` until
    trash_retention_days (default 30) have passed. --purge deletes them for good.

    Example: sigma vps rm 3f2a9c1b --yes
    """
    backend = state(ctx).backend
    if purge:
        confirm_or_yes(f"Delete VPS {', '.join(refs)} for good (no restore)?", yes)
        for ref in refs:
            gone = backend.purge_vps(ref)
            done(f"Purged VPS {gone.hostname} ({gone.id})")
        return
    targets = [backend.get_vps(r) for r in refs]
    confirm_or_yes(f"Move VPS {', '.join(v.hostname for v in targets)} to the trash?", yes)
    for v in targets:
        backend.delete_vps(v.id)
        done(f"Moved VPS {v.hostname} ({v.id}) to the trash (sigma vps restore {v.id})")


@app.command("delete", hidden=True)
def delete(ctx: typer.Context, refs: list[str] = typer.Argument(...)) -> None:
    """The original CLI's spelling: deletes without asking."""
    rm(ctx, refs, yes=True, purge=False)


# -------------------------------------------------------------- history and the trash


def _when(ts: str | None) -> str:
    return ts[:19].replace("T", " ") if ts else ""


HISTORY_COLUMNS = (
    ("When", lambda e: _when(e["at"]), "keep"),
    ("Event", lambda e: e["kind"], "keep"),
    ("Source", lambda e: e["source"], "keep", 3),
    ("Actor", lambda e: e["actor"], "text", 2),
    ("Hostname", lambda e: e["hostname"], "text", 4),
    ("Details", lambda e: _event_summary(e), "text"),
)


def _event_summary(e: dict[str, Any]) -> str:
    from sigma.schemas.history import event_summary

    return event_summary(e["kind"], e["details"])


@app.command("history")
def history(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="VPS id, id prefix or hostname (also in the trash)."),
    since: str = O(None, "--since", help="Only events from this date (YYYY-MM-DD or RFC 3339)."),
    kind: str = O(
        None, "--kind", help="Only this kind: created, updated, status, ip-added, ip-removed..."
    ),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """The timeline of a VPS, newest first: field, status and IP changes, trash, merges,
    agent online/offline, reachability verdicts, tickets. A table shows one page; -q,
    json, yaml and csv give every event unless --page or --per-page asks for a page.

    Example: sigma vps history hk-exit-01 --since 2026-11-01 --kind ip-added
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.history import HistoryEvent, HistoryFilter

    fmt = check_format(fmt)
    raw = {k: v for k, v in {"since": since, "kind": kind}.items() if v is not None}
    validate(HistoryFilter, raw)  # a bad --since or --kind before any request
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.vps_history(
            ref, validate(HistoryFilter, {**raw, "page": n, "per_page": size})
        ),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="events",
    )
    rows = [e.model_dump(mode="json") for e in items]
    emit(
        rows,
        fmt,
        columns=HISTORY_COLUMNS,
        quiet=quiet,
        footer=footer,
        fields=list(HistoryEvent.model_fields),
    )


def _brief(v: dict[str, Any]) -> str:
    return f"{v['hostname']} ({v['id'][:8]}, {v['status']})"


@app.command("duplicates")
def duplicates(
    ctx: typer.Context,
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
) -> None:
    """Pairs of VPS in service that look like one machine: a shared public IP (any label but
    internal), the same hostname (without case) or the same extra.provider_instance_id.
    `sigma vps merge KEEP OTHER` makes one of them.

    Example: sigma vps duplicates --format json
    """
    from sigma.output import check_format, emit

    fmt = check_format(fmt)
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.vps_duplicates(n, size),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=False,
        fmt=fmt,
        noun="pairs",
    )
    rows = [p.model_dump(mode="json") for p in items]
    emit(
        rows,
        fmt,
        columns=(
            ("VPS", lambda p: _brief(p["a"]), "key"),
            ("Duplicate", lambda p: _brief(p["b"]), "key"),
            ("Why", lambda p: "\n".join(f"{r['reason']} {r['value']}" for r in p["reasons"])),
        ),
        footer=footer,
        fields=["a", "b", "reasons"],
    )


@app.command("merge")
def merge(
    ctx: typer.Context,
    keep: str = typer.Argument(..., help="The VPS that stays (id, id prefix or hostname)."),
    other: str = typer.Argument(..., help="The VPS merged into KEEP and removed."),
    dry_run: bool = O(False, "--dry-run", help="Show the result; change nothing."),
    yes: bool = O(False, "--yes", "-y", help="Do not ask for confirmation."),
    fmt: str = FormatOption,
) -> None:
    """Merge OTHER into KEEP in one transaction: OTHER's IPs, tags, extra keys, the fields
    KEEP lacks, tickets, IP checks, history and agent keys go to KEEP, and OTHER is
    removed. A field both have with different values keeps KEEP's and is listed.

    Example: sigma vps merge hk-exit-01 3f2a9c1b --dry-run
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.history import MergeRequest

    fmt = check_format(fmt)
    backend = state(ctx).backend
    data = validate(MergeRequest, {"keep": keep, "other": other, "dry_run": dry_run})
    if not dry_run:
        confirm_or_yes(f"Merge {other} into {keep} and remove {other}?", yes)
    result = backend.merge_vps(data).model_dump(mode="json")
    if fmt != "table":
        emit(result, fmt)
        return
    k, gone = result["keep"], result["removed"]
    verb = "Would merge" if result["dry_run"] else "Merged"
    done(f"{verb} {gone['hostname']} ({gone['id']}) into {k['hostname']} ({k['id']})")
    moved = ", ".join(f"{n} {what}" for what, n in result["moved"].items() if n)
    if moved:
        done(f"moved: {moved}")
    if result["filled"]:
        done(f"filled from {gone['hostname']}: {', '.join(result['filled'])}")
    if result["conflicts"]:
        emit(
            result["conflicts"],
            "table",
            columns=(
                ("Field", lambda c: c["field"], "key"),
                ("Kept", lambda c: str(c["keep"]), "text"),
                ("Other", lambda c: str(c["other"]), "text"),
                ("Resolution", lambda c: c["resolution"]),
            ),
            title="Conflicts",
        )


@app.command("trash")
def trash(
    ctx: typer.Context,
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """The VPS in the trash, most recently deleted first, with the day each is purged.

    Example: sigma vps trash
    """
    from sigma.output import check_format, emit
    from sigma.schemas.history import TrashedVps

    fmt = check_format(fmt)
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.list_trash(n, size),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="VPS",
    )
    emit(
        [v.model_dump(mode="json") for v in items],
        fmt,
        columns=(
            ("ID", lambda v: v["id"][:8], "keep"),
            ("Hostname", lambda v: v["hostname"], "key"),
            ("Status", lambda v: _status(v["status"]), "keep"),
            ("IPs", lambda v: _ips(v["ip_addresses"]), "key", 2),
            ("Deleted", lambda v: _when(v["deleted_at"]), "keep"),
            ("Purged after", lambda v: v["purge_after"][:10], "keep", 1),
        ),
        quiet=quiet,
        footer=footer,
        fields=list(TrashedVps.model_fields),
    )


@app.command("restore")
def restore(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="Ids, id prefixes or hostnames in the trash."),
) -> None:
    """Bring VPS back from the trash, with their agent keys.

    Example: sigma vps restore hk-exit-01
    """
    backend = state(ctx).backend
    for ref in refs:
        v = backend.restore_vps(ref)
        _warn(v._warnings)
        done(f"Restored VPS {v.hostname} ({v.id})")


# -------------------------------------------------------------- renewals and replacement


@app.command("renew")
def renew(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="VPS id, id prefix or hostname."),
    cycles: int = O(1, "--cycles", "-n", help="Whole billing cycles to renew for."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Move the expiry date forward by whole billing cycles (calendar months, clamped to the
    month's end, or days) and record the renewal and its amount in the VPS's history.

    Example: sigma vps renew hk-exit-01 --cycles 3
    """
    from sigma.output import emit

    result = state(ctx).backend.renew_vps(ref, cycles)
    data = result.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(data if not quiet else data["vps"], fmt, quiet=quiet)
        return
    r = data["renewal"]
    paid = f", {r['amount']} {r['currency']}" if r["amount"] is not None else ""
    done(
        f"Renewed VPS {data['vps']['hostname']} until {r['expire_after']} "
        f"({r['cycles']} x {r['billing_cycle']}{paid}; was {r['expire_before']})"
    )


@app.command("renewals")
def renewals(
    ctx: typer.Context,
    within: int = O(7, "--within", "-w", metavar="DAYS", help="Days ahead, 0-366."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """What to renew soon, and for how much: the VPS in service expiring within DAYS
    (overdue included), soonest first, with one billing cycle's amount, then the total per
    currency. json and yaml give the whole report, csv and -q the VPS.

    Example: sigma vps renewals --within 7
    """
    from sigma.output import check_format, emit

    fmt = check_format(fmt)
    report = state(ctx).backend.upcoming_renewals(within)
    data = report.model_dump(mode="json")
    rows = [i | {"id": i["vps_id"]} for i in data["items"]]
    if fmt in ("json", "yaml") and not quiet:
        emit(data, fmt)
        return
    totals = "; ".join(
        f"{t['amount']} {t['currency']} for {t['vps_count']} VPS"
        + (f" ({t['without_cost']} without a cost)" if t["without_cost"] else "")
        for t in data["totals"]
    )
    emit(
        rows,
        fmt,
        quiet=quiet,
        columns=(
            ("Hostname", lambda r: r["hostname"], "key"),
            ("Expires", lambda r: f"{r['expire_date']} ({r['days_left']}d)"),
            ("Cycle", lambda r: r["billing_cycle"] + (" (auto)" if r["auto_renew"] else "")),
            (
                "Amount",
                lambda r: f"{r['amount']} {r['currency']}" if r["amount"] is not None else "-",
            ),
            ("Status", lambda r: r["status"]),
        ),
        footer=(f"Due by {data['until']}: " + (totals or "nothing")),
        fields=[
            "vps_id",
            "hostname",
            "status",
            "expire_date",
            "days_left",
            "billing_cycle",
            "auto_renew",
            "amount",
            "currency",
        ],
    )


@app.command("replace")
def replace(
    ctx: typer.Context,
    old: str = typer.Argument(..., help="The VPS being replaced: id, id prefix or hostname."),
    with_: str = O(None, "--with", help="The VPS that replaces it (id, id prefix or hostname)."),
    new_hostname: str = O(
        None, "--new-hostname", help="Create the replacement with this hostname (add options)."
    ),
    no_purpose: bool = O(False, "--no-purpose", help="Do not inherit the purpose."),
    no_tags: bool = O(False, "--no-tags", help="Do not inherit the tags."),
    no_monitoring: bool = O(
        False, "--no-monitoring", help="Do not inherit the monitoring settings."
    ),
    no_tickets: bool = O(False, "--no-tickets", help="Leave the open tickets on OLD."),
    provider: str = O(None, "--provider", "--provider-id", help="New VPS: provider."),
    alias: str = O(None, "--alias", help="New VPS: alias."),
    ip: list[str] = O(None, "--ip", help="New VPS: " + IP_HELP),
    ssh_port: str = O(None, "--ssh-port", help="New VPS: SSH port [default: 22]."),
    country: str = O(None, "--country", help="New VPS: two-letter country code."),
    city: str = O(None, "--city", help="New VPS: city."),
    dc_name: str = O(None, "--dc", "--dc-name", help="New VPS: data centre name."),
    cpu_cores: str = O(None, "--cpu", "--cpu-cores", help="New VPS: CPU cores."),
    ram_mb: str = O(None, "--ram-mb", help="New VPS: RAM in MB."),
    disk_gb: str = O(None, "--disk-gb", help="New VPS: disk in GB."),
    bandwidth_tb: str = O(None, "--bandwidth-tb", help="New VPS: monthly traffic in TB."),
    cost_monthly: str = O(None, "--cost", "--cost-monthly", help="New VPS: monthly cost."),
    currency: str = O(None, "--currency", help="New VPS: currency [default: USD]."),
    status: str = O(None, "--status", help="New VPS: status [default: provisioning]."),
    purpose: str = O(None, "--purpose", help="New VPS: purpose (instead of OLD's)."),
    vpn_protocol: str = O(None, "--vpn-protocol", help="New VPS: VPN protocol."),
    tag: list[str] = O(None, "--tag", help="New VPS: tag (repeatable; OLD's are added)."),
    purchase_date: str = O(None, "--purchase-date", help="New VPS: YYYY-MM-DD."),
    expire_date: str = O(None, "--expire-date", help="New VPS: YYYY-MM-DD."),
    node_exporter_port: str = O(
        None, "--node-exporter-port", help="New VPS: node_exporter port (instead of OLD's)."
    ),
    extra: list[str] = O(None, "--extra", help="New VPS: KEY=VALUE stored in extra."),
    notes: str = O(None, "--notes", help="New VPS: free text."),
    billing_cycle: str = O(None, "--billing-cycle", help="New VPS: billing cycle."),
    auto_renew: bool = O(None, "--auto-renew/--no-auto-renew", help="New VPS: auto-renewal."),
    traffic_quota_gb: str = O(None, "--traffic-quota", help="New VPS: traffic quota in GB."),
    traffic_direction: str = O(None, "--traffic-direction", help="New VPS: out, in, sum, max."),
    traffic_reset_day: str = O(None, "--traffic-reset-day", help="New VPS: reset day 1-28."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Replace a VPS by another: the new one inherits purpose, tags, monitoring settings and
    the open tickets; the old one becomes retiring, linked to it (extra.replaced_by). The
    new one is an existing VPS (--with) or created here (--new-hostname and add options).

    Example: sigma vps replace hk-exit-01 --with hk-exit-02 --no-tickets
    """
    from sigma.errors import InvalidInput
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.lifecycle import ReplaceRequest

    values = _values(
        ctx,
        provider=provider,
        alias=alias,
        ip_addresses=ip,
        ssh_port=ssh_port,
        country=country,
        city=city,
        dc_name=dc_name,
        cpu_cores=cpu_cores,
        ram_mb=ram_mb,
        disk_gb=disk_gb,
        bandwidth_tb=bandwidth_tb,
        cost_monthly=cost_monthly,
        currency=currency,
        status=status,
        purpose=purpose,
        vpn_protocol=vpn_protocol,
        tags=tag,
        purchase_date=purchase_date,
        expire_date=expire_date,
        node_exporter_port=node_exporter_port,
        notes=notes,
        billing_cycle=billing_cycle,
        auto_renew=auto_renew,
        traffic_quota_gb=traffic_quota_gb,
        traffic_direction=traffic_direction,
        traffic_reset_day=traffic_reset_day,
    )
    if extra:
        values["extra"] = _extra(extra)
    if (with_ is None) == (new_hostname is None):
        raise InvalidInput(
            "with: give either --with NEW (an existing VPS) or --new-hostname HOST (a new one)",
            field="with",
        )
    if with_ is not None and values:
        raise InvalidInput(
            f"with: options for a new VPS ({', '.join(sorted(values))}) need --new-hostname, "
            "not --with",
            field="with",
        )
    body: dict[str, Any] = {
        "inherit_purpose": not no_purpose,
        "inherit_tags": not no_tags,
        "inherit_monitoring": not no_monitoring,
        "inherit_tickets": not no_tickets,
    }
    if with_ is not None:
        body["with"] = with_
    else:
        body["new"] = {**values, "hostname": new_hostname}
    result = state(ctx).backend.replace_vps(old, validate(ReplaceRequest, body))
    _warn(result.new._warnings)
    data = result.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(data if not quiet else data["new"], fmt, quiet=quiet)
        return
    o, n = data["old"], data["new"]
    made = "new VPS " if data["created"] else ""
    got = ", ".join(data["inherited"]) or "nothing new"
    moved = len(data["tickets_moved"])
    done(
        f"Replaced VPS {o['hostname']} ({o['id']}) with {made}{n['hostname']} ({n['id']}): "
        f"{o['hostname']} is {o['status']}; {n['hostname']} inherited {got}"
        + (f"; {moved} open ticket{'s' if moved != 1 else ''} moved" if moved else "")
    )


# the original CLI's spellings: `sigma vps export|import` (hidden)
from sigma.commands import export as _export  # noqa: E402
from sigma.commands import transfer as _transfer  # noqa: E402

app.command("export", hidden=True)(_export.vps)
app.command("import", hidden=True)(_transfer.import_vps)
