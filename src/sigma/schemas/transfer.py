"""Import and export of VPS and providers: formats, the request, the per-row report."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from sigma.schemas.common import BaseModel, Input, one_of

TRANSFER_FORMATS = ("csv", "json", "yaml")


def _transfer_format(value: Any) -> str:
    v = one_of(value, (*TRANSFER_FORMATS, "yml"), "format")
    return "yaml" if v == "yml" else v


TransferFormat = Annotated[str, BeforeValidator(_transfer_format)]


class ImportRequest(Input):
    # the file's text: the importer checks each value and reports it by line and field
    raw_text_fields = frozenset({"data"})

    format: TransferFormat = "json"
    data: str
    dry_run: bool = False


class ImportRowError(BaseModel):
    line: int  # line of the file where the record starts (1-based)
    record: int  # 1-based record number (data rows, not counting a CSV header)
    field: str | None = None
    reason: str


class ImportReport(BaseModel):
    kind: str  # vps or providers
    format: str
    dry_run: bool
    total: int
    created: int
    updated: int
    unchanged: int
    imported: int  # created + updated (the contract's field)
    errors: list[ImportRowError] = Field(default_factory=list)
