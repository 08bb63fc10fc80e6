"""Documentation is checked, not hoped for: every command and group of `sigma` (hidden
aliases included) has help text, and `--help` works for each."""

from __future__ import annotations

import click
import pytest
import typer.main

from sigma.cli import app


def walk(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1] if path else "sigma")
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path + (name,))} is listed but cannot be built"
            yield from walk(sub, path + (name,))


TREE = list(walk(typer.main.get_command(app)))
PATHS = [p for p, _ in TREE]


def test_the_tree_has_the_core_commands():
    for expected in [
        ("provider", "add"),
        ("provider", "list"),
        ("provider", "show"),
        ("provider", "edit"),
        ("provider", "rm"),
        ("vps", "add"),
        ("vps", "list"),
        ("vps", "show"),
        ("vps", "edit"),
        ("vps", "retire"),
        ("vps", "rm"),
        ("config", "show"),
        ("config", "path"),
        ("db", "upgrade"),
        # the original CLI's spellings, hidden
        ("providers", "create"),
        ("providers", "get"),
        ("providers", "update"),
        ("providers", "delete"),
        ("vps", "create"),
        ("vps", "get"),
        ("vps", "update"),
        ("vps", "delete"),
    ]:
        assert expected in PATHS


@pytest.mark.parametrize(("path", "cmd"), TREE, ids=[" ".join(p) or "sigma" for p in PATHS])
def test_every_command_has_help_text(path, cmd):
    text = (cmd.help or cmd.short_help or "").strip()
    assert text, f"`sigma {' '.join(path)}` has no help text"
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), (
                f"`sigma {' '.join(path)}` option {param.opts} has no help"
            )


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "sigma" for p in PATHS])
def test_help_exits_zero(path, capsys):
    from sigma.cli import main

    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    assert "Usage: sigma" in out.out
    assert out.err == ""
