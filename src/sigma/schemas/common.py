"""What every schema shares: the pydantic base classes (Input refuses unknown fields and
invalid strings, Output reads rows), the field types with their rules (text, host names,
IP addresses, country and currency codes, exact money, dates), pagination, and how a
pydantic error becomes an InvalidInput naming the field.

Field names, defaults and enum values follow the original system's contract
(docs/COMPATIBILITY.md). Plain pydantic: no database types here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel as PydanticBaseModel,
)
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from sigma.errors import InvalidInput
from sigma.text import check_text, first_invalid_string
from sigma.vocab import IP_LABEL_ALIASES, IP_LABELS, VPS_PURPOSES, VPS_STATUSES


class BaseModel(PydanticBaseModel):
    """Base of every schema: validators and serializers are built on first use (defer_build),
    not at import: a command uses a handful of the schemas."""

    model_config = ConfigDict(defer_build=True)


MAX_TEXT = 10_000
MAX_NAME = 253
MAX_IPS = 128  # addresses per VPS
MAX_TAGS = 64  # tags per VPS
MAX_FILTER_VALUES = 20  # repeated filter parameters (tag=...&tag=...) per request


def one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str):
        shown = ", ".join(a or "''" for a in allowed)
        raise ValueError(f"must be a string, one of: {shown}")
    v = value.strip().lower()
    if v not in allowed:
        shown = ", ".join(a or "'' (none)" for a in allowed)
        raise ValueError(f"unknown {what} '{value}'; expected one of: {shown}")
    return v


_DOTTED_QUAD = re.compile(r"(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})\Z")
# an interface name (IFNAMSIZ is 16 with the NUL) or an interface index
_ZONE_ID = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def parse_ip(value: Any) -> str:
    """Canonical text form of one IPv4/IPv6 address; CIDR, ranges and garbage are refused."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("IP address is required")
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if _DOTTED_QUAD.match(text) and all(int(o) < 256 for o in text.split(".")):
        return text  # already canonical IPv4 (fast path for bulk imports)
    if "%" in text and not _ZONE_ID.fullmatch(text.partition("%")[2]):
        raise ValueError(
            f"invalid IP address {text[:60]!r}: an IPv6 zone id is an interface name or number "
            "(letters, digits, '.', '_' or '-', at most 15)"
        )
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"invalid IP address {value[:60]!r}") from None


def parse_label(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.strip().lower() in IP_LABEL_ALIASES:
        return IP_LABEL_ALIASES[value.strip().lower()]
    return one_of(value, IP_LABELS, "IP label")


_SPACE = re.compile(r"\s")  # as str.isspace(); a regex is ~10x faster per tag (bulk imports)


def normalise_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of strings")
    seen: dict[str, None] = {}
    for item in value:
        if not isinstance(item, str):
            raise ValueError("every tag must be a string")
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > 64:
            raise ValueError(f"tag {tag[:20]!r}... is longer than 64 characters")
        if "," in tag or _SPACE.search(tag):
            raise ValueError(f"tag {tag!r} must not contain commas or spaces")
        try:
            check_text(tag)
        except ValueError as exc:
            raise ValueError(f"tag {tag!r} {exc}") from None
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise ValueError(f"has {len(seen)} tags; at most {MAX_TAGS} are allowed")
    return list(seen)


def country_code(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be a two-letter country code")
    v = value.strip().upper()
    if v and not re.fullmatch(r"[A-Z]{2}", v):
        raise ValueError(
            f"'{value}' is not a two-letter country code (ISO 3166-1 alpha-2, e.g. HK)"
        )
    return v


def currency_code(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ValueError(f"'{value}' is not a three-letter currency code (e.g. USD)")
    return value.strip().upper()


def multiline_text(value: Any) -> str:
    """Multi-line free text (notes, descriptions, comments): newlines and tabs allowed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return check_text(value, multiline=True)


MAX_DOC_DEPTH = 16
MAX_DOC_BYTES = 64 * 1024


def json_doc(value: Any) -> dict[str, Any]:
    """A free-form JSON object (`extra`): bounded depth and size, no NUL characters
    (PostgreSQL's JSONB cannot store them), so what is accepted can always be stored and served."""
    import json

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")

    check_json_tree(value)
    if len(json.dumps(value, default=str)) > MAX_DOC_BYTES:
        raise ValueError(f"is larger than {MAX_DOC_BYTES // 1024} KiB")
    return value


def check_json_tree(value: Any) -> None:
    """A JSON document from outside (extra, an agent's system_info): bounded depth, keys are
    single-line text, string values are text (newlines and tabs allowed), numbers finite.
    The error names the path inside the document."""

    def walk(node: Any, depth: int, path: str) -> None:
        if depth > MAX_DOC_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_DOC_DEPTH} levels")
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    raise ValueError("keys must be strings")
                try:
                    check_text(k)
                except ValueError as exc:
                    raise ValueError(f"key {path}{k[:40]!r} {exc}") from None
                walk(v, depth + 1, f"{path}{k[:40]}.")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, depth + 1, f"{path}{i}.")
        elif isinstance(node, str):
            try:
                check_text(node, multiline=True)
            except ValueError as exc:
                where = f"value at {path.rstrip('.')} " if path else ""
                raise ValueError(f"{where}{exc}") from None
        elif isinstance(node, float) and (node != node or node in (float("inf"), float("-inf"))):
            raise ValueError("must not contain NaN or infinity")
        elif node is not None and not isinstance(node, bool | int | float):
            raise ValueError(f"holds a {type(node).__name__}, which is not JSON")

    walk(value, 1, "")


JsonObject = Annotated[dict[str, Any], BeforeValidator(json_doc)]


def short_text(value: Any) -> str:
    """One line of text (names, aliases, cities...): no control characters at all."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    v = value.strip()
    if len(v) > MAX_NAME:
        raise ValueError(f"is longer than {MAX_NAME} characters")
    return check_text(v)


def _url(value: Any) -> str:
    v = short_text(value)
    if v and not re.match(r"^https?://[^\s/$.?#].[^\s]*$", v, re.I):
        raise ValueError(f"'{v}' is not an http(s) URL")
    return v


def decimal_parser(scale: int, max_digits: int) -> Callable[[Any], Decimal | None]:
    def parse(value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
        if not d.is_finite():
            raise ValueError("must be a finite number")
        if d < 0:
            raise ValueError("must not be negative")
        if d >= Decimal(10) ** (max_digits - scale):
            raise ValueError(f"must be below {Decimal(10) ** (max_digits - scale)}")
        q = d.quantize(Decimal(1).scaleb(-scale))
        if q != d:
            raise ValueError(f"has more than {scale} decimal places")
        if q >= Decimal(10) ** (max_digits - scale):
            raise ValueError(f"must be below {Decimal(10) ** (max_digits - scale)}")
        return q

    return parse


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"'{value}' is not a date in the form YYYY-MM-DD")


def rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Money = Annotated[
    Decimal | None,
    BeforeValidator(decimal_parser(2, 10)),
    PlainSerializer(lambda v: None if v is None else f"{v:.2f}", return_type=str | None),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(decimal_parser(6, 12)),
    PlainSerializer(lambda v: f"{v:.6f}", return_type=str),
]
OptDate = Annotated[date | None, BeforeValidator(parse_date)]
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
Country = Annotated[str, BeforeValidator(country_code)]
Currency = Annotated[str, BeforeValidator(currency_code)]
Text = Annotated[str, BeforeValidator(multiline_text)]
ShortText = Annotated[str, BeforeValidator(short_text)]
Url = Annotated[str, BeforeValidator(_url)]
Tags = Annotated[list[str], BeforeValidator(normalise_tags)]
Port = Annotated[int, Field(ge=1, le=65535)]
Status = Annotated[str, BeforeValidator(lambda v: one_of(v, VPS_STATUSES, "status"))]
Purpose = Annotated[
    str, BeforeValidator(lambda v: "" if v is None else one_of(v, VPS_PURPOSES, "purpose"))
]


# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def check_hostname(v: str) -> str:
    """The host name rule (RFC 1123): what an SSH client, Ansible and Prometheus take as a host
    and never as an option or a template (no leading '-', no spaces, quotes or braces)."""
    if not v:
        raise ValueError("hostname is required")
    if len(v) > 253:
        raise ValueError("hostname is longer than 253 characters")
    for label in v.split("."):
        if not _LABEL.match(label):
            shown = v if len(v) <= 60 else v[:60] + "..."
            raise ValueError(
                f"hostname {shown!r} is not a valid host name (RFC 1123: labels of letters, "
                "digits and hyphens, 1-63 characters, not starting or ending with a hyphen, "
                "separated by dots)"
            )
    return v


def _hostname(value: Any) -> str:
    return check_hostname(short_text(value))


Hostname = Annotated[str, BeforeValidator(_hostname)]


def _name(value: Any) -> str:
    v = short_text(value)
    if not v:
        raise ValueError("name is required")
    return v


Name = Annotated[str, BeforeValidator(_name)]

# ---------------------------------------------------------------- helpers


def refuse_invalid_strings(data: Any, raw: frozenset[str] = frozenset()) -> Any:
    """Before any field is looked at: no string anywhere in the input (keys included) may hold
    a NUL or a lone surrogate, whatever its field's own rule (those refuse control characters
    too, per field). The error names the field. `raw` fields are left to their own parser."""
    if raw and isinstance(data, dict):
        data_checked: Any = {k: v for k, v in data.items() if k not in raw}
    else:
        data_checked = data
    found = first_invalid_string(data_checked)
    if found:
        path, reason = found
        field = ".".join(str(p) for p in path)
        raise ValueError(f"{field}: {reason}" if field else reason)
    return data


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused (typos must not pass silently), and
    no string may hold a NUL or a lone surrogate (refuse_invalid_strings)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    # fields whose text a parser of its own reads and judges value by value (an import's file)
    raw_text_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _valid_strings(cls, data: Any) -> Any:
        return refuse_invalid_strings(data, cls.raw_text_fields)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any) -> M:
    """Validate `data` as `model`, raising InvalidInput naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


_NULL_FIELD = re.compile(r"^(\w+) cannot be null$")
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): (.+)$", re.DOTALL)


def field_in_message(msg: str) -> str | None:
    """Model-level errors carry no location; recover the field they are about."""
    m = _NULL_FIELD.match(msg) or _FIELD_PREFIX.match(msg)
    return m.group(1) if m else None


def located(msg: str, field: str | None) -> tuple[str | None, str]:
    """(field, message) of an error: a model-level message 'field: reason' gives its field,
    and the reason without the repeated name."""
    if not field:
        m = _FIELD_PREFIX.match(msg)
        if m:
            return m.group(1), m.group(2)
        return field_in_message(msg), msg
    return field, msg


def invalid_from(exc: ValidationError) -> InvalidInput:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    field, msg = located(
        first["msg"].removeprefix("Value error, "), ".".join(str(p) for p in first["loc"])
    )
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "missing":
        msg = "field required"
    details = [
        {
            "field": ".".join(str(p) for p in e["loc"]),
            "message": e["msg"].removeprefix("Value error, "),
        }
        for e in errors
    ]
    text = msg if not field or msg.startswith(f"{field} ") else f"{field}: {msg}"
    return InvalidInput(text, field=field, details=details)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int
    page: int
    per_page: int


MAX_PAGE = 1_000_000


def clamp_page(page: int, per_page: int) -> tuple[int, int]:
    """The contract's pagination: page below 1 is 1, per_page clamped to [1, 100]. A page
    beyond MAX_PAGE is refused: its OFFSET would overflow PostgreSQL's bigint."""
    if page > MAX_PAGE:
        raise ValueError(f"must be at most {MAX_PAGE}")
    return max(page, 1), min(max(per_page, 1), 100)


class Deleted(BaseModel):
    deleted: bool = True


def refuse_nulls(model: BaseModel, nullable: set[str]) -> None:
    for name in model.model_fields_set:
        if getattr(model, name) is None and name not in nullable:
            raise ValueError(f"{name} cannot be null")


class PageParams(Input):
    """`page` (from 1, at most MAX_PAGE) and `per_page` (clamped to 1..100) of every listing."""

    page: int = 1
    per_page: int = 25

    @field_validator("page", mode="after")
    @classmethod
    def _page(cls, v: int) -> int:
        return clamp_page(v, 1)[0]

    @field_validator("per_page", mode="after")
    @classmethod
    def _per_page(cls, v: int) -> int:
        return min(max(v, 1), 100)
