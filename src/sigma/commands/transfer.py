"""`sigma import vps|providers FILE` (all or nothing, with a per-record error report)."""

import sys
from typing import TYPE_CHECKING, Any

import typer

from sigma.commands.common import done, state

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

PROGRESS_OVER = 300  # records (lines, roughly) before a progress bar is shown
SHOWN_ERRORS = 50


def _read(path: str) -> str:
    from sigma.errors import InvalidInput

    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput(
            f"file: cannot read {path}: {exc.strerror or exc}", field="file"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"file: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})", field="file"
        ) from None


def _run(
    ctx: typer.Context, kind: str, path: str, fmt: str | None, dry_run: bool, as_json: bool
) -> None:
    from sigma.errors import InvalidInput
    from sigma.formats import guess_file_format

    f = guess_file_format(path, fmt)
    text = _read(path)
    backend = state(ctx).backend
    call = backend.import_vps if kind == "vps" else backend.import_providers
    try:
        with _progress(text.count("\n") > PROGRESS_OVER) as progress:
            report = call(text, f, dry_run, progress)
    except InvalidInput as exc:
        _report_errors(exc.details)
        raise
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    noun = "VPS" if kind == "vps" else "providers"
    prefix = "Dry run, nothing written: would import" if dry_run else "Imported"
    done(
        f"{prefix} {report.imported} {noun} ({report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged) from {report.total} records in {path}"
    )


def _report_errors(details: Any) -> None:
    if not isinstance(details, list):
        return
    for e in details[:SHOWN_ERRORS]:
        if isinstance(e, dict) and "line" in e:
            where = f"line {e['line']}" + (f" (record {e['record']})" if e.get("record") else "")
            field = f" {e['field']}:" if e.get("field") else ""
            sys.stderr.write(f"  {where}:{field} {e.get('reason', '')}\n")
    if len(details) > SHOWN_ERRORS:
        sys.stderr.write(f"  ... and {len(details) - SHOWN_ERRORS} more\n")


class _progress:
    """A rich progress bar on stderr for big files; a no-op callback otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from sigma.output import console

        self.bar = Progress(
            TextColumn("{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console(stderr=True),
            transient=True,
        )
        self.bar.start()
        return self.update

    def update(self, stage: str, done_: int, total: int) -> None:
        if self.bar is None:  # __enter__ hands this method out once the bar is started
            raise RuntimeError("the progress bar is not started")
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done_, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()


FormatOpt = typer.Option(
    None,
    "--format",
    "-f",
    help="csv, json or yaml [default: from the file's extension].",
    metavar="FORMAT",
)
DryRunOpt = typer.Option(
    False, "--dry-run", help="Validate and report what would change; write nothing."
)
JsonOpt = typer.Option(False, "--json", help="Print the import report as JSON on stdout.")


@app.command("vps")
def import_vps(
    ctx: typer.Context,
    file: str = typer.Argument(
        ..., help="File written by `sigma export vps` (or the original's export); - for stdin."
    ),
    fmt: str = FormatOpt,
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import VPS: all or nothing. Records with a known id are updated, others created;
    providers are found by provider_id or provider_name. Any bad record: nothing is written,
    each one is reported (line, field, reason) and the exit code is 2.

    Example: sigma import vps fleet.csv --dry-run
    """
    _run(ctx, "vps", file, fmt, dry_run, as_json)


@app.command("providers")
def import_providers(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="File written by `sigma export providers`; - for stdin."),
    fmt: str = FormatOpt,
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import providers: all or nothing; matched by id, else by name, otherwise created.

    Example: sigma import providers providers.json
    """
    _run(ctx, "providers", file, fmt, dry_run, as_json)
