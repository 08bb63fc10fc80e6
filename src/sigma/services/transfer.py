"""Export and import of VPS and providers as CSV, JSON or YAML.

Export writes what import reads back identically (decimals as exact strings, not floats).
Import is all-or-nothing: every record is parsed and validated first, each bad record is
reported with its line, field and reason, and nothing is written unless all are good.
Records are matched by id (update; unchanged records are left alone) and otherwise created
(with the id of the file, when it has one). Providers without an id are also matched by
name, which is unique. New rows are written with one bulk INSERT, changed rows with one
bulk UPDATE, and the import writes one audit row with the counts.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput
from sigma.formats import csv_text, file_format
from sigma.schemas.common import located
from sigma.schemas.inventory import Provider, ProviderCreate, Vps, VpsCreate
from sigma.schemas.transfer import ImportReport, ImportRowError
from sigma.services import audit
from sigma.services.actor import READERS, WRITERS, Actor
from sigma.text import csv_unsafe
from sigma.vocab import parse_timestamp

Progress = Callable[[str, int, int], None]  # (stage, done, total)

VPS_CSV_COLUMNS = [
    "id",
    "hostname",
    "alias",
    "provider_name",
    "ip_addresses",
    "ssh_port",
    "country",
    "city",
    "dc_name",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "bandwidth_tb",
    "cost_monthly",
    "currency",
    "status",
    "purchase_date",
    "expire_date",
    "purpose",
    "vpn_protocol",
    "tags",
    "monitoring_enabled",
    "node_exporter_port",
    "extra",
    "notes",
    # issue 16 (after the original's columns)
    "billing_cycle",
    "auto_renew",
    "traffic_quota_gb",
    "traffic_direction",
    "traffic_reset_day",
]
PROVIDER_CSV_COLUMNS = [
    "id",
    "name",
    "country",
    "website",
    "panel_url",
    "api_supported",
    "rating",
    "notes",
]
MAX_REPORTED = 1000
CHUNK = 500


# ================================================================== export


def _vps_field_order() -> list[str]:
    stored = {c.name for c in VpsRow.__table__.c}
    names = [n for n in Vps.model_fields if n in stored]
    return (
        names[: names.index("provider_id") + 1]
        + ["provider_name"]
        + names[names.index("provider_id") + 1 :]
    )


def vps_records(session: Session, ids: list[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    from sigma.services.vps import ORDER
    from sigma.services.vps import out as vps_out

    fields = _vps_field_order()
    names = {p.id: p.name for p in session.scalars(select(ProviderRow))}
    out = []
    q = select(VpsRow).where(col(VpsRow.deleted_at).is_(None)).order_by(*ORDER)
    if ids is not None:
        q = q.where(col(VpsRow.id).in_(ids))
    for row in session.scalars(q):
        d = vps_out(session, row).model_dump(mode="json")
        d["provider_name"] = names.get(row.provider_id, "") if row.provider_id else ""
        out.append({k: d[k] for k in fields})
    return out


def provider_records(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ProviderRow).order_by(ProviderRow.name))
    return [Provider.model_validate(r).model_dump(mode="json") for r in rows]


_JSON_LIST = re.compile(r"\[\s*(?:[{\"\]]|$)")  # [{...}, ...], ["..."] or []; not [2001:db8::1]


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "tags":
        # ';'-joined as the contract, unless that would read back otherwise: a tag with ';'
        # in it, or a first tag that looks like the start of a JSON list (then a JSON list)
        joined = ";".join(value)
        if any(";" in t for t in value) or _JSON_LIST.match(joined):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return joined
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def render(records: list[dict[str, Any]], fmt: str, columns: list[str]) -> str:
    fmt = file_format(fmt)
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        # never anchors and aliases (imports refuse them), even for values shared in memory
        dumper = type("NoAliasDumper", (base,), {"ignore_aliases": lambda self, data: True})
        if not records:
            return "[]\n"
        return yaml.dump(
            records,
            Dumper=dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=1_000_000,
        )
    return csv_text(columns, ([_csv_cell(c, r.get(c)) for c in columns] for r in records))


def export_vps(
    session: Session, actor: Actor, fmt: str = "json", ids: list[Any] | None = None
) -> str:
    """Every VPS, or those of `ids` (a selection: at least one, at most vps.MAX_BULK)."""
    actor.require(READERS)
    if ids is not None:
        from sigma.services.vps import bulk_ids

        return render(vps_records(session, bulk_ids(ids)), fmt, VPS_CSV_COLUMNS)
    return render(vps_records(session), fmt, VPS_CSV_COLUMNS)


def export_providers(session: Session, actor: Actor, fmt: str = "json") -> str:
    actor.require(READERS)
    return render(provider_records(session), fmt, PROVIDER_CSV_COLUMNS)


# ================================================================== parsing


@dataclass
class Record:
    line: int
    number: int
    values: dict[str, Any]
    csv: bool = False


class ParseError(Exception):
    def __init__(self, line: int, reason: str, field: str | None = None):
        super().__init__(reason)
        self.line, self.reason, self.field = line, reason, field


def _undecimal(value: Any) -> Any:
    """JSON parsed with Decimal floats: back to float inside free-form `extra`."""
    if isinstance(value, Decimal):  # only JSON numbers with a fraction or exponent
        return float(value)
    if isinstance(value, dict):
        return {k: _undecimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undecimal(v) for v in value]
    return value


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse_json(text: str) -> Iterator[Record]:
    """A top-level array of objects, element by element, so each knows its line."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    i, n = 0, len(text)
    ws = " \t\r\n\ufeff"

    def skip(j: int) -> int:
        while j < n and text[j] in ws:
            j += 1
        return j

    i = skip(i)
    if i >= n or text[i] != "[":
        raise ParseError(_line_of(text, i), "expected a JSON array of objects ([{...}, ...])")
    i = skip(i + 1)
    number = 0
    if i < n and text[i] == "]":
        if skip(i + 1) < n:
            raise ParseError(_line_of(text, skip(i + 1)), "unexpected text after the JSON array")
        return
    while True:
        number += 1
        line = _line_of(text, i)
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ParseError(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise ParseError(line, f"record {number} is not a JSON object")
        yield Record(line, number, obj)
        i = skip(i)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            if skip(i + 1) < n:
                raise ParseError(
                    _line_of(text, skip(i + 1)), "unexpected text after the JSON array"
                )
            return
        raise ParseError(_line_of(text, i), "invalid JSON: expected ',' or ']' between records")


def parse_yaml(text: str) -> Iterator[Record]:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ParseError(
                mark.line + 1 if mark else 1, f"invalid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        if node is None:
            return
        if not isinstance(node, yaml.SequenceNode):
            raise ParseError(
                node.start_mark.line + 1, "expected a YAML list of mappings (- hostname: ...)"
            )
        _refuse_aliases(node)
        for number, item in enumerate(node.value, 1):
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.MappingNode):
                raise ParseError(line, f"record {number} is not a mapping")
            try:
                values = loader.construct_document(item)
            except yaml.YAMLError as exc:
                raise ParseError(line, f"invalid YAML: {exc}") from None
            yield Record(line, number, values)
    finally:
        loader.dispose()


def _refuse_aliases(root: Any) -> None:
    """A YAML alias (*name) makes a node appear twice in the graph: nested aliases grow a
    420-byte file into millions of values ("billion laughs"). sigma's exports never write
    one, so an import refuses any, after a walk that visits each node once."""
    import yaml

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise ParseError(
                node.start_mark.line + 1,
                "YAML aliases (*name) are not accepted in an import; write the values out",
            )
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))


def parse_csv(text: str, columns: list[str]) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ParseError(1, f"invalid CSV: {exc}") from None
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise ParseError(1, f"column '{h}' appears twice in the header", h)
        if h not in columns:
            raise ParseError(1, f"unknown column '{h}'; expected some of: {', '.join(columns)}", h)
        seen.add(h)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ParseError(reader.line_num, f"invalid CSV: {exc}") from None
        joined = "".join(cells)
        if not joined.strip():  # a blank line, or a row of empty cells
            continue
        number += 1
        line = reader.line_num - joined.count("\n")
        if len(cells) != len(header):
            yield Record(line, number, {"__cells__": (len(cells), len(header))}, csv=True)
            continue
        # a cell sigma wrote with a formula guard (text.csv_safe) reads back as it was
        cells = [csv_unsafe(c) for c in cells]
        yield Record(line, number, dict(zip(header, cells, strict=True)), csv=True)


def parse(text: str, fmt: str, csv_columns: list[str]) -> Iterator[Record]:
    fmt = file_format(fmt)
    if fmt == "json":
        return parse_json(text)
    if fmt == "yaml":
        return parse_yaml(text)
    return parse_csv(text, csv_columns)


# ================================================================== import machinery


class RowInvalid(Exception):
    def __init__(self, errors: list[tuple[str | None, str]]):
        super().__init__(errors[0][1])
        self.errors = errors


def _pydantic_errors(exc: ValidationError) -> list[tuple[str | None, str]]:
    out = []
    for e in exc.errors(include_url=False, include_input=False):
        name, msg = located(
            e["msg"].removeprefix("Value error, "), ".".join(str(p) for p in e["loc"]) or None
        )
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "field required"
        out.append((name, msg))
    return out


def _bool_cell(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "y", "on", "t"):
        return True
    if v in ("false", "0", "no", "n", "off", "f"):
        return False
    raise RowInvalid([(name, f"'{value}' is not true or false")])


J = TypeVar("J", list[Any], dict[str, Any])


def _json_cell(name: str, value: str, kind: type[J]) -> J:
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise RowInvalid([(name, f"invalid JSON: {exc}")]) from None
    if not isinstance(parsed, kind):
        raise RowInvalid([(name, f"must be a JSON {'object' if kind is dict else 'list'}")])
    return parsed


def _ts(name: str, value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise RowInvalid([(name, f"'{value}' is not an RFC 3339 timestamp")]) from None


def _uuid(name: str, value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except ValueError:
        raise RowInvalid([(name, f"'{value}' is not a UUID")]) from None


@dataclass
class Plan:
    kind: str
    fmt: str
    total: int = 0
    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    error_count: int = 0

    def fail(self, rec_line: int, number: int, errors: list[tuple[str | None, str]]) -> None:
        for name, reason in errors:
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED:
                self.errors.append(
                    ImportRowError(line=rec_line, record=number, field=name, reason=reason)
                )

    def report(self, dry_run: bool) -> ImportReport:
        return ImportReport(
            kind=self.kind,
            format=self.fmt,
            dry_run=dry_run,
            total=self.total,
            created=len(self.creates),
            updated=len(self.updates),
            unchanged=self.unchanged,
            imported=len(self.creates) + len(self.updates),
            errors=self.errors,
        )

    def raise_if_invalid(self) -> None:
        if self.error_count:
            self.errors.sort(key=lambda e: (e.line, e.record))
            bad = len({(e.line, e.record) for e in self.errors})
            more = f" (first {MAX_REPORTED} shown)" if self.error_count > MAX_REPORTED else ""
            raise InvalidInput(
                f"import of {self.kind} refused: {self.error_count} error(s) in {bad}"
                f"{'+' if more else ''} record(s){more}; nothing was imported",
                field="data",
                details=[e.model_dump() for e in self.errors],
            )


def _collect(text: str, fmt: str, columns: list[str], plan: Plan) -> list[Record]:
    records: list[Record] = []
    try:
        for rec in parse(text, fmt, columns):
            records.append(rec)
    except ParseError as exc:
        plan.fail(exc.line, len(records) + 1, [(exc.field, exc.reason)])
    plan.total = len(records)
    return records


def _existing(session: Session, table: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found: dict[uuid.UUID, Any] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        for row in session.execute(select(table).where(table.c.id.in_(chunk))).mappings():
            found[row["id"]] = row
    return found


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and (done % 200 == 0 or done == total):
        progress("validating", done, total)


def _bulk_inserter(
    session: Session, table: Any, names: list[str]
) -> Callable[[list[dict[str, Any]]], None]:
    """A multi-row INSERT through the driver's executemany, with the columns' own bind
    processors (ExactDecimal, Uuid, JSON/JSONB, UtcDateTime) applied once per value:
    the same rows SQLAlchemy would write, without its per-row statement bookkeeping
    (about half the time of an import of 10,000 VPS)."""
    conn = session.connection()
    dialect = conn.dialect
    # columns the rows leave out but that have a Python-side default (e.g. a version counter)
    defaults: dict[str, Any] = {}
    for c in table.c:
        if c.name not in names and c.default is not None:
            defaults[c.name] = c.default.arg if c.default.is_scalar else c.default.arg(None)
    names = names + list(defaults)
    cols = [table.c[n] for n in names]
    procs = [c.type._cached_bind_processor(dialect) for c in cols]
    compiled = (
        insert(table).values({c.name: bindparam(c.name) for c in cols}).compile(dialect=dialect)
    )
    sql = compiled.string
    positiontup = compiled.positiontup
    order = [names.index(n) for n in positiontup] if positiontup is not None else None

    def run(rows: list[dict[str, Any]]) -> None:
        params = []
        for row in rows:
            row = {**row, **defaults} if defaults else row
            values = [row[n] if p is None else p(row[n]) for n, p in zip(names, procs, strict=True)]
            params.append(
                tuple(values[i] for i in order)
                if order is not None
                else dict(zip(names, values, strict=True))
            )
        conn.exec_driver_sql(sql, params)

    return run


def _write(
    session: Session, table: Any, plan: Plan, fields: list[str], progress: Progress | None
) -> None:
    total = len(plan.creates) + len(plan.updates)
    done = 0
    if plan.creates:
        insert_many = _bulk_inserter(session, table, list(plan.creates[0]))
        for i in range(0, len(plan.creates), CHUNK):
            chunk = plan.creates[i : i + CHUNK]
            insert_many(chunk)
            done += len(chunk)
            if progress:
                progress("writing", done, total)
    if plan.updates:
        now = utcnow()
        values: dict[str, Any] = {f: bindparam(f"v_{f}") for f in fields}
        values["updated_at"] = now
        if "version" in table.c:
            values["version"] = table.c.version + 1
        stmt = update(table).where(table.c.id == bindparam("v_id")).values(values)
        for i in range(0, len(plan.updates), CHUNK):
            chunk = [{f"v_{k}": v for k, v in row.items()} for row in plan.updates[i : i + CHUNK]]
            session.execute(stmt, chunk)
            done += len(chunk)
            if progress:
                progress("writing", done, total)


def _finish(
    session: Session, actor: Actor, plan: Plan, resource: str, dry_run: bool
) -> ImportReport:
    plan.raise_if_invalid()
    report = plan.report(dry_run)
    if not dry_run and report.imported:
        audit.record(
            session,
            actor,
            "import",
            resource,
            None,
            {
                "format": plan.fmt,
                "total": report.total,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "imported": report.imported,
            },
        )
    return report


# ================================================================== VPS import

VPS_FIELDS = list(VpsCreate.model_fields)
# computed fields of an export, ignored on import (provider_name is read: it names the provider)
VPS_READ_ONLY = {n for n in Vps.model_fields if n not in VpsCreate.model_fields} - {
    "id",
    "provider_name",
}


def _csv_ips(name: str, cell: str) -> list[Any]:
    text = cell.strip()
    if not text:
        return []
    if _JSON_LIST.match(text):
        return _json_cell(name, text, list)
    # the friendly form: 1.2.3.4=china-telecom;2001:db8::1
    return [
        {"ip": s.partition("=")[0], "label": s.partition("=")[2]}
        for s in text.replace(",", ";").split(";")
        if s.strip()
    ]


def _csv_tags(name: str, cell: str) -> list[Any]:
    text = cell.strip()
    if _JSON_LIST.match(text):
        return _json_cell(name, text, list)
    return [t for t in text.split(";") if t.strip()]  # a tag may itself start with '[': [prod];eu


_ABSENT = object()


def _csv_or_absent(name: str, cell: str) -> Any:
    return cell if cell.strip() else _ABSENT


def _csv_or_null(name: str, cell: str) -> Any:
    return cell.strip() or None


VPS_CSV_CELLS: dict[str, Callable[[str, str], Any]] = {
    "ip_addresses": _csv_ips,
    "tags": _csv_tags,
    "extra": lambda name, cell: _json_cell(name, cell, dict) if cell.strip() else {},
    "monitoring_enabled": lambda name, cell: _bool_cell(name, cell) if cell.strip() else _ABSENT,
    "auto_renew": lambda name, cell: _bool_cell(name, cell) if cell.strip() else _ABSENT,
    **{
        n: _csv_or_absent
        for n in (
            "ssh_port",
            "node_exporter_port",
            "currency",
            "status",
            "billing_cycle",
            "traffic_direction",
            "traffic_reset_day",
        )
    },
    **{
        n: _csv_or_null
        for n in (
            "cpu_cores",
            "ram_mb",
            "disk_gb",
            "bandwidth_tb",
            "cost_monthly",
            "purchase_date",
            "expire_date",
            "traffic_quota_gb",
            "id",
        )
    },
}


def _vps_csv_values(values: dict[str, Any]) -> dict[str, Any]:
    """CSV cells to field values: JSON/';' lists, booleans, '' as null or as 'not given'."""
    out: dict[str, Any] = {}
    for name, cell in values.items():
        conv = VPS_CSV_CELLS.get(name)
        if conv is None:
            out[name] = cell
        else:
            v = conv(name, cell)
            if v is not _ABSENT:
                out[name] = v
    return out


def _vps_base(row: Any) -> dict[str, Any]:
    """A stored row as VpsCreate input (the starting point of an update)."""
    return {f: row[f] for f in VPS_FIELDS}


def _vps_changed(row: Any, new: dict[str, Any]) -> bool:
    return any(row[f] != new[f] for f in VPS_FIELDS)


def import_vps(
    session: Session,
    actor: Actor,
    data: str,
    fmt: str = "json",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    actor.require(WRITERS)
    fmt = file_format(fmt)
    plan = Plan("vps", fmt)
    records = _collect(data, fmt, VPS_CSV_COLUMNS, plan)
    providers = list(session.execute(select(col(ProviderRow.id), col(ProviderRow.name))))
    by_id = {p.id: p.name for p in providers}
    by_name = {p.name.lower(): p.id for p in providers}

    # pass 1: ids, so that existing rows can be fetched in bulk
    ids: dict[int, uuid.UUID | None] = {}
    seen: dict[uuid.UUID, int] = {}
    for rec in records:
        try:
            if "__cells__" in rec.values:
                got, want = rec.values["__cells__"]
                raise RowInvalid([(None, f"row has {got} cells, the header has {want}")])
            rid = _uuid("id", rec.values.get("id"))
            if rid is not None and rid in seen:
                raise RowInvalid([("id", f"id {rid} appears twice (also at line {seen[rid]})")])
            if rid is not None:
                seen[rid] = rec.line
            ids[rec.number] = rid
        except RowInvalid as exc:
            plan.fail(rec.line, rec.number, exc.errors)
    existing = _existing(session, VpsRow.__table__, list(seen))
    now = utcnow()

    for done, rec in enumerate(records, 1):
        _tick(progress, done, len(records))
        if rec.number not in ids:
            continue
        rid = ids[rec.number]
        try:
            values = _vps_csv_values(rec.values) if rec.csv else dict(rec.values)
            values.pop("id", None)
            created_at = _ts("created_at", values.pop("created_at", None))
            updated_at = _ts("updated_at", values.pop("updated_at", None))
            for ro in VPS_READ_ONLY:
                values.pop(ro, None)
            # provider: an id the database knows, else the name; '' or null means none
            has_pid, has_name = "provider_id" in values, "provider_name" in values
            pid_raw, name_raw = values.pop("provider_id", None), values.pop("provider_name", None)
            if has_pid or has_name:
                pid = None
                pid_val = _uuid("provider_id", pid_raw) if pid_raw not in (None, "") else None
                name = str(name_raw).strip() if name_raw is not None else ""
                if pid_val is not None and pid_val in by_id:
                    pid = pid_val
                elif name:
                    pid = by_name.get(name.lower())
                    if pid is None:
                        raise RowInvalid(
                            [
                                (
                                    "provider_name",
                                    f"unknown provider '{name}': add it first "
                                    "(sigma provider add, or import the providers file)",
                                )
                            ]
                        )
                elif pid_val is not None:
                    raise RowInvalid([("provider_id", f"unknown provider id {pid_val}")])
                values["provider_id"] = pid
            if "extra" in values and not rec.csv:
                values["extra"] = _undecimal(values["extra"])
            row = existing.get(rid) if rid is not None else None
            if row is not None and row["deleted_at"] is not None:
                raise RowInvalid(
                    [("id", f"VPS {rid} is in the trash: restore it first (sigma vps restore)")]
                )
            merged = {**_vps_base(row), **values} if row is not None else values
            try:
                model = VpsCreate.model_validate(merged)
            except ValidationError as exc:
                raise RowInvalid(_pydantic_errors(exc)) from None
            new = {f: getattr(model, f) for f in VPS_FIELDS}  # python values (Decimal, date)
            new["ip_addresses"] = [{"ip": e.ip, "label": e.label} for e in model.ip_addresses]
            if row is not None:
                if _vps_changed(row, new):
                    plan.updates.append({"id": rid, **new})
                else:
                    plan.unchanged += 1
            else:
                plan.creates.append(
                    {
                        "id": rid or uuid.uuid4(),
                        **new,
                        "created_at": created_at or now,
                        "updated_at": updated_at or created_at or now,
                    }
                )
        except RowInvalid as exc:
            plan.fail(rec.line, rec.number, exc.errors)

    report = _finish(session, actor, plan, "vps", dry_run)
    if not dry_run:
        _write(session, VpsRow.__table__, plan, VPS_FIELDS, progress)
        _record_history(session, actor, plan, existing, by_id)
    return report


def _record_history(
    session: Session,
    actor: Actor,
    plan: Plan,
    existing: dict[uuid.UUID, Any],
    providers: dict[Any, str],
) -> None:
    """The timeline of an import (source `import`), in batches: `created` for each new VPS,
    `updated`/`status`/IP events for each changed one, and the IP history of both."""
    from pydantic_core import to_jsonable_python

    from sigma.services import history

    def js(value: Any) -> Any:
        return to_jsonable_python(value)

    events: list[dict[str, Any]] = []
    holdings: list[tuple[Any, str, Any, bool]] = []
    for new in plan.creates:
        events.append(
            {
                "vps_id": new["id"],
                "kind": "created",
                "source": "import",
                "actor": actor,
                "hostname": new["hostname"],
                "details": {
                    "status": new["status"],
                    "country": new["country"],
                    "provider_name": providers.get(new["provider_id"]),
                    "ip_addresses": js(new["ip_addresses"]),
                    "tags": js(new["tags"]),
                    "expire_date": js(new["expire_date"]),
                },
            }
        )
        holdings.append(
            (new["id"], new["hostname"], new["ip_addresses"], new["status"] != "retired")
        )
    for new in plan.updates:
        old = existing[new["id"]]
        base = {
            "vps_id": new["id"],
            "source": "import",
            "actor": actor,
            "hostname": new["hostname"],
        }
        before = {f: js(old[f]) for f in VPS_FIELDS}
        after = {f: js(new[f]) for f in VPS_FIELDS}
        changes = history.field_changes(before, after)
        if changes:
            events.append({**base, "kind": "updated", "details": {"changes": changes}})
        if old["status"] != new["status"]:
            kind = "retired" if new["status"] == "retired" else "status"
            events.append(
                {**base, "kind": kind, "details": {"from": old["status"], "to": new["status"]}}
            )
        for kind, details in history.ip_events(old["ip_addresses"], new["ip_addresses"]):
            events.append({**base, "kind": kind, "details": details})
        holdings.append(
            (new["id"], new["hostname"], new["ip_addresses"], new["status"] != "retired")
        )
    history.record_many(session, events)
    history.sync_ips(session, holdings)


# ================================================================== provider import

PROVIDER_FIELDS = list(ProviderCreate.model_fields)
PROVIDER_READ_ONLY = {n for n in Provider.model_fields if n not in ProviderCreate.model_fields} - {
    "id"
}


def _provider_csv_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, cell in values.items():
        if name == "api_supported":
            if cell.strip():
                out[name] = _bool_cell(name, cell)
        elif name in ("rating", "id"):
            out[name] = cell.strip() or None
        else:
            out[name] = cell
    return out


def import_providers(
    session: Session,
    actor: Actor,
    data: str,
    fmt: str = "json",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    actor.require(WRITERS)
    fmt = file_format(fmt)
    plan = Plan("providers", fmt)
    records = _collect(data, fmt, PROVIDER_CSV_COLUMNS, plan)
    table = ProviderRow.__table__
    current = {r["id"]: r for r in session.execute(select(table)).mappings()}
    name_owner = {r["name"].lower(): r["id"] for r in current.values()}
    seen: dict[uuid.UUID, int] = {}
    now = utcnow()
    for done, rec in enumerate(records, 1):
        _tick(progress, done, len(records))
        try:
            if "__cells__" in rec.values:
                got, want = rec.values["__cells__"]
                raise RowInvalid([(None, f"row has {got} cells, the header has {want}")])
            values = _provider_csv_values(rec.values) if rec.csv else dict(rec.values)
            rid = _uuid("id", values.pop("id", None))
            created_at = _ts("created_at", values.pop("created_at", None))
            updated_at = _ts("updated_at", values.pop("updated_at", None))
            for ro in PROVIDER_READ_ONLY:
                values.pop(ro, None)
            row = current.get(rid) if rid is not None else None
            by_name = rid is None
            if by_name and isinstance(values.get("name"), str):
                owner = name_owner.get(values["name"].strip().lower())
                row = current.get(owner) if owner is not None else None
                rid = owner
            merged = (
                {**{f: row[f] for f in PROVIDER_FIELDS}, **values} if row is not None else values
            )
            try:
                model = ProviderCreate.model_validate(merged)
            except ValidationError as exc:
                raise RowInvalid(_pydantic_errors(exc)) from None
            target = rid or uuid.uuid4()
            if target in seen:
                raise RowInvalid(
                    [
                        (
                            "name" if by_name else "id",
                            f"this provider appears twice (also at line {seen[target]})",
                        )
                    ]
                )
            seen[target] = rec.line
            key = model.name.lower()
            owner = name_owner.get(key)
            if owner is not None and owner != target:
                where = f"line {seen[owner]}" if owner in seen else f"provider {str(owner)[:8]}"
                raise RowInvalid([("name", f"name '{model.name}' is already used by {where}")])
            if row is not None and row["name"].lower() != key:
                name_owner.pop(row["name"].lower(), None)
            name_owner[key] = target
            new = {f: getattr(model, f) for f in PROVIDER_FIELDS}
            if row is not None:
                if any(row[f] != new[f] for f in PROVIDER_FIELDS):
                    plan.updates.append({"id": target, **new})
                else:
                    plan.unchanged += 1
            else:
                plan.creates.append(
                    {
                        "id": target,
                        **new,
                        "created_at": created_at or now,
                        "updated_at": updated_at or created_at or now,
                    }
                )
        except RowInvalid as exc:
            plan.fail(rec.line, rec.number, exc.errors)
    report = _finish(session, actor, plan, "provider", dry_run)
    if not dry_run:
        _write(session, table, plan, PROVIDER_FIELDS, progress)
    return report
