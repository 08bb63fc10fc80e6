"""Every table, for whoever needs the whole schema: the migrations (env.py), the autogenerate
check, the tests' cleanup and the benchmarks' loaders. A command imports only its areas."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from sigma.db.models import (  # noqa: F401 (maps them)
    accounts,
    attention,
    audit,
    core,
    costs,
    history,
    identity,
    jobs,
    lifecycle,
    monitoring,
    notify,
    tickets,
)

metadata: MetaData = SQLModel.metadata
