"""The CLI's command groups, one module per noun, each a typer app of thin commands: parse the
options, call one Backend method, render. Heavy imports go inside the functions that need them.

Command modules do without `from __future__ import annotations`: typer reads their signatures
when a group is built, and string annotations made that about twice as slow."""
