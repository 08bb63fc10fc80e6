"""`sigma export prometheus|ansible|vps|providers|ical`, and the `sigma-ansible-inventory`
console script (the Ansible dynamic inventory protocol)."""

import sys
from typing import Any

import typer

from sigma.commands.common import done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

OutputOption = typer.Option(
    None,
    "--output",
    "-o",
    help="Write to FILE atomically (unchanged file left alone) instead of stdout.",
    metavar="FILE",
)


def _deliver(text: str, output: str | None, what: str) -> None:
    """stdout, or an atomic write to `output` with a one-line note on stderr."""
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from sigma.fileio import write_atomic

    if write_atomic(output, text):
        done(f"Wrote {what} to {output}")
    else:
        done(f"{output} unchanged ({what})")


def _json(data: Any) -> str:
    import json  # not at the top: every `sigma` start imports this module

    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@app.command("prometheus")
def prometheus(
    ctx: typer.Context,
    output: str = OutputOption,
    address_label: str = typer.Option(
        None,
        "--address-label",
        help="Scrape the first IP with this label (default: first non-internal IP).",
        metavar="LABEL",
    ),
) -> None:
    """Prometheus file_sd targets of the monitored active VPS (IPv6 bracketed).

    For cron: the file is replaced atomically and only when it changed; on any error the
    command exits non-zero and the previous file stays in place.

    Example: sigma export prometheus -o /etc/prometheus/targets/sigma.json
    """
    targets = state(ctx).backend.prometheus_targets(address_label)
    _deliver(_json(targets), output, f"{len(targets)} targets")


@app.command("ansible")
def ansible(
    ctx: typer.Context,
    list_: bool = typer.Option(
        False, "--list", help="The whole inventory (groups and _meta.hostvars)."
    ),
    host: str = typer.Option(
        None, "--host", help="The variables of one host ({} when unknown).", metavar="NAME"
    ),
    output: str = OutputOption,
) -> None:
    """Ansible dynamic inventory, in the inventory-script protocol.

    Example: sigma export ansible --list > inventory.json
    """
    from sigma.errors import InvalidInput

    if list_ == (host is not None):
        raise InvalidInput("give exactly one of --list or --host NAME", field="list")
    backend = state(ctx).backend
    if host is not None:
        _deliver(_json(backend.ansible_host(host)), output, f"host {host}")
        return
    inv = backend.ansible_inventory()
    _deliver(_json(inv), output, f"{len(inv['_meta']['hostvars'])} hosts")


@app.command("ical")
def ical(ctx: typer.Context, output: str = OutputOption) -> None:
    """iCalendar (.ics) feed of VPS expiry dates, for a phone or desktop calendar.

    Example: sigma export ical -o ~/sigma-expiry.ics
    """
    text = state(ctx).backend.calendar()
    _deliver(text, output, f"{text.count('BEGIN:VEVENT')} expiry dates")


def _file_format(fmt: str | None, output: str | None) -> str:
    from sigma.formats import guess_file_format

    return guess_file_format(output or "", fmt)


@app.command("vps")
def vps(
    ctx: typer.Context,
    fmt: str = typer.Option(
        None,
        "--format",
        "-f",
        help="csv, json or yaml [default: from -o's extension, else json].",
        metavar="FORMAT",
    ),
    output: str = OutputOption,
) -> None:
    """Export every VPS; `sigma import vps` reads the file back identically.

    Example: sigma export vps --format csv -o fleet.csv
    """
    f = _file_format(fmt, output)
    text = state(ctx).backend.export_vps(f)
    _deliver(text, output, f"VPS as {f}")


@app.command("providers")
def providers(
    ctx: typer.Context,
    fmt: str = typer.Option(
        None,
        "--format",
        "-f",
        help="csv, json or yaml [default: from -o's extension, else json].",
        metavar="FORMAT",
    ),
    output: str = OutputOption,
) -> None:
    """Export every provider; `sigma import providers` reads the file back identically.

    Example: sigma export providers -o providers.yaml
    """
    f = _file_format(fmt, output)
    text = state(ctx).backend.export_providers(f)
    _deliver(text, output, f"providers as {f}")


# ------------------------------------------------------------------ inventory script


def ansible_inventory_main(argv: list[str] | None = None) -> None:
    """`sigma-ansible-inventory --list | --host NAME`: an executable Ansible inventory using
    the normal sigma settings (config file, SIGMA_* environment; local or remote)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sigma-ansible-inventory",
        description="Ansible dynamic inventory from sigma. "
        'Example: ansible-inventory -i "$(command -v sigma-ansible-inventory)" --list',
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="the whole inventory")
    group.add_argument("--host", metavar="NAME", help="one host's variables")
    args = parser.parse_args(argv)

    from sigma.errors import SigmaError

    backend = None
    try:
        from sigma.backend import get_backend
        from sigma.settings import load_settings

        backend = get_backend(load_settings())
        data = (
            backend.ansible_host(args.host)
            if args.host is not None
            else backend.ansible_inventory()
        )
    except SigmaError as exc:
        sys.stderr.write(f"sigma-ansible-inventory: {exc.message}\n")
        sys.exit(exc.exit_code)
    finally:
        if backend is not None:
            backend.close()
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
