"""Shared pieces of the command modules: the per-invocation State (settings and backend,
both created on first use) and the options every listing takes. Light imports only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

DEFAULT_GC_THRESHOLDS = (700, 10, 10)  # CPython's

if TYPE_CHECKING:
    from sigma.backend import Backend
    from sigma.config_file import Layered
    from sigma.settings import Settings


class State:
    """What one invocation works with: its settings and its backend, both made on first use.
    A remote command whose whole configuration is a server and its credentials gets its
    backend without the Settings model (config_file.light_remote)."""

    def __init__(self, flags: dict[str, Any], *, debug: bool = False, local: bool = False):
        self.flags = flags
        self.debug = debug
        self.local = local
        self._config: Layered | None = None
        self._settings: Settings | None = None
        self._backend: Backend | None = None

    @property
    def config(self) -> Layered:
        if self._config is None:
            from sigma.config_file import layered

            self._config = layered(self.flags)
        return self._config

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from sigma.settings import load_settings

            self._settings = load_settings(config=self.config)
            if self.local:
                self._settings.server = None
        return self._settings

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from sigma.config_file import light_remote

            target = (
                None if self._settings is not None else light_remote(self.config, local=self.local)
            )
            if target is not None:
                from sigma.client.remote import RemoteBackend

                self._backend = RemoteBackend(*target)
            else:
                from sigma.backend import get_backend

                self._backend = get_backend(self.settings)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


def state(ctx: typer.Context) -> State:
    obj = ctx.find_object(State)
    if obj is None:  # a sub-app invoked on its own (tests)
        obj = State({})
        ctx.obj = obj
    return obj


FormatOption = typer.Option(
    "table", "--format", "-f", help="Output format: table, json, yaml or csv.", metavar="FORMAT"
)
QuietOption = typer.Option(False, "--quiet", "-q", help="Print only ids, one per line.")
PageOption = typer.Option(
    None, "--page", min=1, help="Page number, from 1 [default: 1 in a table; every row otherwise]."
)
PerPageOption = typer.Option(
    None, "--per-page", min=1, max=100, help="Rows per page, 1-100 [default: 25]."
)
AllOption = typer.Option(False, "--all", help="Every matching row, ignoring pagination.")


def listing(
    fetch: Callable[[int, int], Any],
    *,
    page: int | None,
    per_page: int | None,
    all_: bool,
    quiet: bool,
    fmt: str,
    noun: str,
) -> tuple[list[Any], str]:
    """The rows a listing command prints, and its footer. A table shows one page; -q, json,
    yaml and csv feed scripts, so they get every matching row unless a page is asked for
    (a pipeline must never handle the first page and stop without a word). `fetch(page,
    per_page)` returns a Page."""
    every = all_ or ((quiet or fmt != "table") and page is None and per_page is None)
    if every:
        items: list[Any] = []
        number = 1
        while True:
            result = fetch(number, 100)
            items.extend(result.data)
            if not result.data or len(items) >= result.total:
                return items, f"{len(items)} {noun}"
            number += 1
    result = fetch(page or 1, per_page or 25)
    pages = max(1, -(-result.total // result.per_page))
    return list(result.data), f"Page {result.page} of {pages} ({result.total} total)"


def long_running() -> None:
    """A command that keeps running (serve, agent run, probe run) gives the garbage collector
    back its default thresholds, which sigma's start-up raised (cli.main)."""
    import gc

    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)


def done(message: str) -> None:
    """A confirmation for humans, on stderr so stdout stays clean for scripts."""
    typer.echo(message, err=True)


def confirm_or_yes(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, destructive commands need --yes."""
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        from sigma.errors import InvalidInput

        raise InvalidInput("refusing to delete without --yes when not run from a terminal")
    typer.confirm(question, abort=True, err=True)
