"""Shared pieces of the command modules: the per-invocation State (settings and backend,
both created on first use) and the options every listing takes. Light imports only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sigma.backend import Backend
    from sigma.client.http import ApiClient
    from sigma.settings import Settings


class State:
    def __init__(self, flags: dict[str, Any], *, debug: bool = False, local: bool = False):
        self.flags = flags
        self.debug = debug
        self.local = local
        self._settings: Settings | None = None
        self._backend: Backend | None = None
        self._remote_api: ApiClient | None | bool = None  # False: checked, not the simple case

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from sigma.settings import load_settings

            self._settings = load_settings(self.flags)
            if self.local:
                self._settings.server = None
        return self._settings

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from sigma.backend import get_backend

            self._backend = get_backend(self.settings)
        return self._backend

    def remote_api(self) -> ApiClient | None:
        """The server's plain HTTP client when this command runs remotely and the settings are
        just the server and its credentials (sigma.client.target), built without loading the
        Settings model or the schemas (pydantic); None otherwise: use `backend`."""
        if self._remote_api is None:
            if self._backend is not None or self._settings is not None:
                self._remote_api = False
            else:
                from sigma.client.target import remote_api

                self._remote_api = remote_api(self.flags, local=self.local) or False
        return self._remote_api or None

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
        if self._remote_api:
            self._remote_api.close()


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
