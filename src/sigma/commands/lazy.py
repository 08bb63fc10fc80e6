"""The root command's groups, imported when they are used.

click's documented lazy-loading group ("Complex Applications: Lazily Loading Subcommands"): a
group lists its sub-commands by name and imports one only when click asks for it
(`get_command`), so `sigma vps list` imports the vps commands and no other group's, and
`sigma --help` none (its listing reads each group's one-line help from the table). A group
is the `app` (a typer.Typer) of its module, turned into a click group by
`typer.main.get_group`, typer's documented conversion (a group even with one command).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click
import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A group of the root command: the module whose `app` it is, its one-line help, and
    whether it is hidden (the original CLI's spellings)."""

    module: str
    help: str
    hidden: bool = False


class LazyGroup(TyperGroup):
    """A typer group whose sub-groups (LAZY) are imported on first use; the sub-commands
    registered on the typer app itself (serve, login...) are built as usual."""

    LAZY: dict[str, Lazy] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.LAZY, *(name for name in self.commands if name not in self.LAZY)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.LAZY.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            app = importlib.import_module(lazy.module).app
            group = typer.main.get_group(app)
            group.name, group.help, group.hidden = cmd_name, lazy.help, lazy.hidden
            self.commands[cmd_name] = group
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of `sigma --help`, from the table: a group's short help needs no import."""
        rows = []
        for name in self.list_commands(ctx):
            lazy = self.LAZY.get(name)
            cmd = self.commands.get(name) or click.Command(
                name, help=lazy.help if lazy else "", hidden=lazy.hidden if lazy else False
            )
            if not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """An unknown name suggests the closest ones, groups not imported yet included."""
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as exc:
            if args and "Did you mean" not in exc.message:
                from difflib import get_close_matches

                visible = [
                    n
                    for n in self.list_commands(ctx)
                    if not (n in self.LAZY and self.LAZY[n].hidden)
                ]
                matches = get_close_matches(args[0], visible)
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
                    raise click.UsageError(message, ctx=exc.ctx) from None
            raise
