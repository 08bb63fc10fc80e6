"""Build the click command tree of a Typer app on demand.

`typer.main.get_command(app)` turns every registered command of every sub-app into a click
command up front: it inspects each function's signature and type hints and builds each
option, ~35 commands and ~260 options for sigma, about as long as importing typer itself.
A run needs one command. `lazy_command(app)` builds the same tree from the same
registrations (`app.add_typer`, `app.command`), but a group creates a sub-command only
when click asks for it by name (`get_command`), so `sigma vps list` builds `vps` and `list`
only, and `sigma --help` builds the root options and one short help line per sub-command.

Walk the tree with click's `list_commands(ctx)` / `get_command(ctx, name)`, as click itself
does: a lazy group's `.commands` dict holds only what has been built so far.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import click
import typer
from typer.core import TyperGroup
from typer.main import (
    get_command_from_info,
    get_command_name,
    get_group_from_info,
    get_install_completion_arguments,
)
from typer.models import DefaultPlaceholder, TyperInfo


class LazyTyper(typer.Typer):
    """A sub-app registered by the name of its module (whose `app` it is), imported when its
    group is first built: `sigma vps list` imports the vps commands only, `sigma --help` none
    (the root listing reads the help given to `add_typer`). Any other use (typer's own eager
    `get_command`, the docs generator, a test) imports it on first attribute access."""

    def __init__(self, module: str):  # no Typer.__init__: every attribute comes from the module's app
        self.__dict__["_module"] = module

    def load(self) -> typer.Typer:
        app = self.__dict__.get("_app")
        if app is None:
            app = self.__dict__["_app"] = importlib.import_module(self.__dict__["_module"]).app
        return app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.load(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.load(), name, value)


class LazyGroup(TyperGroup):
    """A TyperGroup whose sub-commands are built on first use, in registration order."""

    builders: dict[str, Callable[[], click.Command]] = {}
    # name -> a stand-in with the command's help text but none of its options, for listings
    summaries: dict[str, Callable[[], click.Command]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(dict.fromkeys([*self.builders, *self.commands]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in self.builders:
            cmd = self.commands[cmd_name] = self.builders[cmd_name]()
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing of sub-commands, from stand-ins: a short help line needs no options."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or (
                self.summaries[name]() if name in self.summaries else self.get_command(ctx, name)
            )
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # TyperGroup suggests from `.commands`, which is not filled yet: suggest from the names
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as exc:
            if self.suggest_commands and args and "Did you mean" not in exc.message:
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    shown = ", ".join(f"{m!r}" for m in matches)
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {shown}?"
            raise


def lazy_command(app: typer.Typer) -> click.Command:
    """What `typer.main.get_command(app)` returns, for an app with sub-commands, built lazily."""
    opts = {
        "pretty_exceptions_short": app.pretty_exceptions_short,
        "rich_markup_mode": app.rich_markup_mode,
        "suggest_commands": app.suggest_commands,
    }
    group = _group(TyperInfo(app), opts)
    if app._add_completion:
        group.params.extend(get_install_completion_arguments())
    return group


def _group(info: TyperInfo, opts: dict[str, Any]) -> TyperGroup:
    sub = info.typer_instance
    assert sub is not None
    if isinstance(sub, LazyTyper):
        info = copy.copy(info)
        sub = info.typer_instance = sub.load()
    # the group itself (its callback, options and help) from a copy without sub-commands
    hollow = copy.copy(sub)
    hollow.registered_commands = []
    hollow.registered_groups = []
    hollow_info = copy.copy(info)
    hollow_info.typer_instance = hollow
    hollow_info.cls = LazyGroup
    group = get_group_from_info(hollow_info, **opts)
    assert isinstance(group, LazyGroup)

    # then one builder per sub-command, in typer's order: commands first, then groups
    builders: dict[str, Callable[[], click.Command]] = {}
    cmd_opts = {k: v for k, v in opts.items() if k != "suggest_commands"}
    summaries: dict[str, Callable[[], click.Command]] = {}
    for command_info in sub.registered_commands:
        name = command_info.name or get_command_name(command_info.callback.__name__)
        builders[name] = partial(get_command_from_info, command_info, **cmd_opts)
        summaries[name] = partial(_summary, command_info, name)
    for group_info in sub.registered_groups:
        name = group_info.name
        if name and not isinstance(name, DefaultPlaceholder):
            builders[name] = partial(_group, group_info, opts)
            if not isinstance(group_info.help, DefaultPlaceholder):  # typer's first choice of help
                summaries[name] = partial(_group_summary, group_info, name)
            continue
        # no name given to add_typer: let typer decide (it may merge the commands in)
        built = _group(group_info, opts)
        if built.name:
            builders[built.name] = partial(lambda g: g, built)
        else:
            for cmd_name in built.list_commands(click.Context(built)):
                builders[cmd_name] = partial(built.get_command, click.Context(built), cmd_name)
    group.builders = builders
    group.summaries = {k: v for k, v in summaries.items()
                       if k in builders and builders[k].func in (get_command_from_info, _group)}
    return group


def _group_summary(group_info: TyperInfo, name: str) -> click.Command:
    """A sub-group for the listing, from what `add_typer` was given, without importing it."""
    def given(value: Any, default: Any) -> Any:
        return default if isinstance(value, DefaultPlaceholder) else value

    return click.Command(name, help=inspect.cleandoc(group_info.help or ""),
                         short_help=given(group_info.short_help, None),
                         hidden=given(group_info.hidden, False), deprecated=given(group_info.deprecated, False))


def _summary(command_info: Any, name: str) -> click.Command:
    """What `get_command_from_info` would give for the listing: name, help, hidden, deprecated."""
    text = command_info.help
    text = inspect.getdoc(command_info.callback) if text is None else inspect.cleandoc(text)
    return click.Command(name, help=text, short_help=command_info.short_help,
                         hidden=command_info.hidden, deprecated=command_info.deprecated)
