"""The registry of probe sources and their health (issue 17).

A probe is known by its source name. It is registered the first time it is heard from:
by its round report (`report`, which says its carrier, region and whether it is a control)
or, for a probe that sends no report (the original sigma-probe), by its first batch of
results (`touch`), with nothing declared: such a probe is inside China when its name says
so (cn, cn-*, cn_*) and a control otherwise, as before the registry.

Health comes from the reference targets (the setting probe_references) the probe checks each
round: a `reachable` reference must answer (ok, http_error or refused: the host is there),
a `blocked` one must not from inside China, while a control must reach every reference. A
probe whose references disagree is `unhealthy`: its results are stored, but they move no
verdict (services.ip_checks). With no reference configured or checked, health is `unknown`
and the probe's results count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.identity import ApiKey as ApiKeyRow
from sigma.db.models.monitoring import Probe as ProbeRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, NotFound, PermissionDenied
from sigma.schemas.common import validate
from sigma.schemas.monitoring import ProbeReferenceTarget, ProbeReport, ProbeStatus
from sigma.services import audit
from sigma.services.actor import PROBES, READERS, WRITERS, Actor
from sigma.vocab import CHINA_CARRIERS, HOST_UP_OUTCOMES

if TYPE_CHECKING:
    from sigma.schemas.identity import ApiKeyCreated

log = logging.getLogger("sigma.probes")

# a probe silent for longer is stale: listed so, and its results left out of verdicts
STALE_AFTER = timedelta(hours=1)
REASON_LIMIT = 500


def named_china(source: str) -> bool:
    """The rule for a probe that declared no carrier: its name says it is inside China."""
    s = source.lower()
    return s == "cn" or s.startswith(("cn-", "cn_"))


@dataclass(frozen=True)
class Role:
    """What a source's results mean to a verdict."""

    china: bool
    control: bool
    healthy: bool  # False: unhealthy, its results move no verdict
    carrier: str | None = None
    region: str = ""


def role_of(row: ProbeRow | None, source: str) -> Role:
    if row is None:
        china = named_china(source)
        return Role(china=china, control=not china, healthy=True)
    if row.carrier:
        china = row.carrier in CHINA_CARRIERS
        control = bool(row.control)
    else:  # no carrier declared (an older probe, or one run without --carrier): its name
        china = named_china(row.source)
        control = bool(row.control) or not china
    return Role(
        china=china and not control,
        control=control,
        healthy=row.health != "unhealthy",
        carrier=row.carrier,
        region=row.region,
    )


def roles(session: Session, sources: Iterable[str]) -> dict[str, Role]:
    """The role of each of these sources (registered or not)."""
    wanted = sorted(set(sources))
    if not wanted:
        return {}
    rows = {
        r.source: r
        for r in session.scalars(select(ProbeRow).where(col(ProbeRow.source).in_(wanted)))
    }
    return {s: role_of(rows.get(s), s) for s in wanted}


def _insert_ignore(session: Session) -> Insert:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(ProbeRow).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(ProbeRow).on_conflict_do_nothing()


def touch(session: Session, sources: Iterable[str], now: datetime | None = None) -> None:
    """Sources heard from in a batch: registered if new, last_seen moved on (at most once
    a minute per source, so that a busy probe does not rewrite its row every batch)."""
    now = now or utcnow()
    wanted = sorted({s for s in sources if s})
    if not wanted:
        return
    session.execute(
        _insert_ignore(session),
        [
            dict(
                source=s,
                region="",
                version="",
                first_seen=now,
                last_seen=now,
                health="unknown",
                health_reason="",
                last_round={},
            )
            for s in wanted
        ],
    )
    for row in session.scalars(
        select(ProbeRow)
        .where(
            col(ProbeRow.source).in_(wanted),
            col(ProbeRow.last_seen) < now - timedelta(minutes=1),
        )
        .order_by(col(ProbeRow.source))
        .with_for_update()
    ):
        row.last_seen = now


# ---------------------------------------------------------------- keys and their binding

PROBE_USER = "probes@sigma.local"


def provision_key(
    session: Session, actor: Actor, data: Any, source: str | None = None
) -> ApiKeyCreated:
    """A new API key with the probe role (shown once): it reads the targets (and the VPS list,
    for the original sigma-probe), posts checks and its round reports, nothing else. Bound to
    `source` when given; else to the source of its first round report."""
    from sigma.schemas.identity import ApiKeyCreate
    from sigma.services import auth

    actor.require(WRITERS)
    data = data if isinstance(data, ApiKeyCreate) else validate(ApiKeyCreate, data)
    if source is not None:
        source = validate_source(source)
    created = auth.issue_key(
        session,
        actor,
        auth.service_user(session, PROBE_USER, "probe"),
        data,
        details={"probe": data.name, **({"source": source} if source else {})},
    )
    if source is not None:
        row = session.get(ApiKeyRow, created.id)
        assert row is not None
        row.probe_source = source
        created.probe_source = source
    return created


def validate_source(source: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from sigma.schemas.monitoring import Source

    try:
        value = TypeAdapter(Source).validate_python(source)
    except ValidationError as exc:
        raise InvalidInput(f"source: {exc.errors()[0]['msg']}", field="source") from None
    if not value:
        raise InvalidInput("source: must not be empty", field="source")
    return str(value)


def bound_source(session: Session, actor: Actor) -> str | None:
    """The probe source the caller's key is bound to (None: not a bound probe key)."""
    if actor.api_key_id is None or actor.effective_role != "probe":
        return None
    return session.scalar(
        select(col(ApiKeyRow.probe_source)).where(col(ApiKeyRow.id) == actor.api_key_id)
    )


def _claim(session: Session, actor: Actor, source: str) -> str | None:
    """A probe key reporting as `source`: bound on its first report (the key's id is
    returned, for the report's audit row), refused as another probe."""
    if actor.api_key_id is None or actor.effective_role != "probe":
        return None  # an operator or admin may report for any probe
    key = session.get(ApiKeyRow, actor.api_key_id, with_for_update=True)
    if key is None:
        return None
    if key.probe_source is None:
        key.probe_source = source
        return str(key.id)
    if key.probe_source != source:
        reason = f"this key speaks for probe {key.probe_source}; it may not report as {source}"
        raise PermissionDenied(
            f"Forbidden: {reason}",
            field="source",
            # audited although the transaction rolls back (unit_of_work writes it alone)
            audit=audit.refusal(
                actor,
                "probe-report-refused",
                "probe",
                None,
                {"source": source, "bound_to": key.probe_source, "key": str(key.id)},
            ),
        )
    return None


def references(session: Session, actor: Actor) -> list[ProbeReferenceTarget]:
    """The reference targets every probe checks (the setting, carried by the session)."""
    actor.require(PROBES + READERS)
    return [
        ProbeReferenceTarget.model_validate(r) for r in session.info.get("probe_references") or ()
    ]


def _judge(
    report: ProbeReport, configured: list[ProbeReferenceTarget], china: bool
) -> tuple[str, str, list[dict[str, Any]]]:
    """(health, reason, evidence) of a round's reference results."""
    by_name = {r.name: r for r in configured}
    evidence: list[dict[str, Any]] = []
    wrong: list[str] = []
    for result in report.references:
        ref = by_name.get(result.name)
        if ref is None:
            continue  # a reference no longer configured
        expect = ref.expect if china else "reachable"
        answered = result.outcome in HOST_UP_OUTCOMES
        agrees = answered == (expect == "reachable")
        evidence.append(
            {
                "name": ref.name,
                "ip": ref.ip,
                "check_type": ref.check_type,
                "port": ref.port,
                "expect": expect,
                "outcome": result.outcome,
                "latency_ms": result.latency_ms,
                "agrees": agrees,
            }
        )
        if not agrees:
            wrong.append(f"{ref.name} expected {expect}, saw {result.outcome}")
    if not evidence:
        return "unknown", "no reference target checked", evidence
    if wrong:
        reason = f"{len(wrong)} of {len(evidence)} references disagree: " + "; ".join(wrong)
        return "unhealthy", reason[:REASON_LIMIT], evidence
    return "healthy", f"{len(evidence)} of {len(evidence)} references as expected", evidence


def report(session: Session, actor: Actor, data: ProbeReport | dict) -> ProbeStatus:
    """A probe's round report: its declared identity, and its health from its references."""
    actor.require(PROBES)
    data = data if isinstance(data, ProbeReport) else validate(ProbeReport, data)
    bound_key = _claim(session, actor, data.source)
    now = utcnow()
    touch(session, [data.source], now)
    row = session.scalars(
        select(ProbeRow).where(col(ProbeRow.source) == data.source).with_for_update()
    ).one()
    declared = (row.carrier, row.region, row.control)
    row.carrier, row.region, row.control = data.carrier, data.region, data.control
    row.version = data.version
    row.last_seen = row.reported_at = now
    china = role_of(row, row.source).china
    health, reason, evidence = _judge(data, references(session, actor), china)
    row.last_round = {
        "checks": data.round.checks,
        "seconds": data.round.seconds,
        "references": evidence,
    }
    # one audit row for what this report changed: the key's binding, the declared identity,
    # the health (a report that changes nothing is telemetry, like a heartbeat)
    changes: dict[str, Any] = {}
    if bound_key is not None:
        changes["key_bound"] = bound_key
    if declared != (row.carrier, row.region, row.control):
        changes |= {"carrier": row.carrier, "region": row.region, "control": row.control}
    if health != row.health:
        log.log(
            logging.WARNING if health == "unhealthy" else logging.INFO,
            "probe %s is %s: %s",
            row.source,
            health,
            reason,
        )
        changes |= {"health": health, "was": row.health, "reason": reason}
        row.health, row.health_since = health, now
    if changes:
        audit.record(session, actor, "update", "probe", None, {"source": row.source, **changes})
    row.health_reason = reason
    session.flush()
    return status_of(row, now)


def status_of(row: ProbeRow, now: datetime | None = None) -> ProbeStatus:
    now = now or utcnow()
    role = role_of(row, row.source)
    return ProbeStatus(
        id=row.source,
        source=row.source,
        carrier=row.carrier,
        region=row.region,
        china=role.china,
        control=role.control,
        declared=row.reported_at is not None,
        version=row.version,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        stale=now - row.last_seen > STALE_AFTER,
        health=row.health,
        health_since=row.health_since,
        health_reason=row.health_reason,
        last_round=row.last_round or {},
    )


def list_probes(session: Session, actor: Actor) -> list[ProbeStatus]:
    """Every registered probe: inside China first, then controls, by name."""
    actor.require(READERS)
    now = utcnow()
    out = [status_of(r, now) for r in session.scalars(select(ProbeRow))]
    return sorted(out, key=lambda p: (not p.china, p.source))


def forget(session: Session, actor: Actor, source: str) -> ProbeStatus:
    """Remove a probe from the registry (a retired probe node). Its stored results stay; if
    it is heard from again it is registered anew."""
    actor.require(WRITERS)
    source = validate_source(source)
    row = session.get(ProbeRow, source)
    if row is None:
        raise NotFound(f"probe not found: {source}")
    out = status_of(row)
    session.delete(row)
    audit.record(session, actor, "delete", "probe", None, {"source": source})
    session.flush()
    return out
