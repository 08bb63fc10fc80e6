"""`sigma cost summary|monthly` and `sigma cost rate set|list|rm`."""

from typing import Any

import typer

from sigma.commands.common import FormatOption, QuietOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
rate_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(rate_app, name="rate", help="Exchange rates used to convert costs.")

O = typer.Option
ByOption = O(
    None, "--by", help="Also break down by provider, country or purpose.", metavar="GROUPING"
)
ConvertOption = O(
    None,
    "--convert-to",
    help="Convert the totals to this currency (needs exchange rates; overrides --convert).",
    metavar="CUR",
)
BaseOption = O(
    False,
    "--convert",
    help="Convert the totals to the base currency: the base_currency setting when it is set "
    "here (config file, SIGMA_BASE_CURRENCY), else the server's (USD by default).",
)
ProviderOption = O(None, "--provider", help="Only this provider (id, prefix or name).")
CountryOption = O(None, "--country", help="Only this country code.")
RetiredOption = O(False, "--include-retired", help="Count retired VPS too.")


def _query(ctx: typer.Context, **raw: Any):
    from sigma.schemas.common import validate
    from sigma.schemas.costs import CostQuery

    st = state(ctx)
    if raw.get("convert") and not raw.get("convert_to") and "base_currency" in st.config.values:
        # this configuration names a base currency: it wins, against a server too (unset,
        # the base of wherever the report is made applies: this database's or the server's)
        raw["convert_to"] = st.settings.base_currency
    provider = raw.pop("provider", None)
    if provider:
        raw["provider_id"] = str(st.backend.get_provider(provider).id)
    return validate(CostQuery, {k: v for k, v in raw.items() if v not in (None, "")})


def _rows(per_currency: list[dict[str, Any]], first: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {**first, "currency": c["currency"], "vps": c["vps_count"], "total": c["total_cost"]}
        for c in per_currency
    ]


def _converted(c: dict[str, Any] | None) -> str:
    if not c:
        return ""
    from sigma.schemas.costs import display_amount  # 2 places, ROUND_HALF_EVEN

    return f"{display_amount(c['amount'])} {c['currency']}"


def _target(report: dict[str, Any], q: Any) -> str | None:
    """The currency the report was converted to (convert_to, or the base currency)."""
    return q.convert_to or (report.get("base_currency") if q.convert else None)


@app.command("summary")
def summary(
    ctx: typer.Context,
    by: str = ByOption,
    convert_to: str = ConvertOption,
    convert: bool = BaseOption,
    provider: str = ProviderOption,
    country: str = CountryOption,
    status: str = O(
        None, "--status", help="Only this status (retired VPS are left out otherwise)."
    ),
    include_retired: bool = RetiredOption,
    fmt: str = FormatOption,
) -> None:
    """Monthly running cost of the fleet, per currency, optionally converted and broken down.

    Example: sigma cost summary --by provider --convert-to USD
    """
    from sigma.output import emit

    q = _query(
        ctx,
        by=by,
        convert_to=convert_to,
        convert=convert,
        provider=provider,
        country=country,
        status=status,
        include_retired=include_retired,
    )
    s = state(ctx).backend.cost_summary(q).model_dump(mode="json")
    if fmt != "table":
        emit(s, fmt)
        return
    rows: list[dict[str, Any]] = []
    if s["groups"] is not None:
        for g in s["groups"]:
            group_rows = _rows(g["per_currency"], {"group": g["key"]})
            if group_rows and g["converted_total"]:
                group_rows[0]["converted"] = _converted(g["converted_total"])
            rows += group_rows
    rows += _rows(s["per_currency"], {"group": "TOTAL"} if s["groups"] is not None else {})
    columns = ([("Group", lambda r: r.get("group", ""))] if s["groups"] is not None else []) + [
        ("Currency", lambda r: r["currency"]),
        ("VPS", lambda r: r["vps"]),
        ("Monthly", lambda r: r["total"]),
    ]
    target = _target(s, q)
    if s["groups"] is not None and target:
        columns.append((f"In {target}", lambda r: r.get("converted", "")))
    footer = (
        f"Total: {_converted(s['converted_total'])} per month" if s["converted_total"] else None
    )
    emit(rows, "table", columns=columns, footer=footer)


@app.command("monthly")
def monthly(
    ctx: typer.Context,
    months: int = O(12, "--months", help="How many months back, this one included (1-120)."),
    by: str = ByOption,
    convert_to: str = ConvertOption,
    convert: bool = BaseOption,
    provider: str = ProviderOption,
    country: str = CountryOption,
    include_retired: bool = RetiredOption,
    fmt: str = FormatOption,
) -> None:
    """What the fleet cost month by month (a VPS counts in the months it was live).

    Example: sigma cost monthly --months 6 --convert-to EUR
    """
    from sigma.output import emit

    q = _query(
        ctx,
        months=months,
        by=by,
        convert_to=convert_to,
        convert=convert,
        provider=provider,
        country=country,
        include_retired=include_retired,
    )
    m = state(ctx).backend.cost_monthly(q).model_dump(mode="json")
    if fmt != "table":
        emit(m, fmt)
        return
    rows: list[dict[str, Any]] = []
    renewed = False
    for month in m["months"]:
        label = month["month"][:7]
        # the renewals paid in the month, per currency (issue 16): beside the running cost of
        # the same currency, or on a row of their own
        paid = {c["currency"]: c["total_cost"] for c in month.get("renewals") or []}
        renewed = renewed or bool(paid)
        if month["groups"] is not None:
            for g in month["groups"]:
                group_rows = _rows(g["per_currency"], {"month": label, "group": g["key"]})
                if group_rows and g["converted_total"]:
                    group_rows[0]["converted"] = _converted(g["converted_total"])
                rows += group_rows
        else:
            month_rows = _rows(month["per_currency"], {"month": label})
            if month_rows and month["converted_total"]:
                month_rows[0]["converted"] = _converted(month["converted_total"])
            for r in month_rows:
                r["renewed"] = paid.pop(r["currency"], "")
            rows += month_rows
        for currency, amount in sorted(paid.items()):
            extra = {"group": "(renewals)"} if month["groups"] is not None else {}
            rows.append(
                {"month": label, **extra, "currency": currency, "vps": "", "total": "",
                 "renewed": amount}
            )  # fmt: skip
    columns = [("Month", lambda r: r["month"])]
    if by:
        columns.append(("Group", lambda r: r.get("group", "")))
    columns += [
        ("Currency", lambda r: r["currency"]),
        ("VPS", lambda r: r["vps"]),
        ("Cost", lambda r: r["total"]),
    ]
    if renewed:
        columns.append(("Renewals paid", lambda r: r.get("renewed", "")))
    target = _target(m, q)
    if target:
        columns.append((f"In {target}", lambda r: r.get("converted", "")))
    emit(rows, "table", columns=columns, footer=None if rows else "no costs in these months")


# ------------------------------------------------------------------ rates

RATE_COLUMNS = (
    ("ID", lambda r: r["id"][:8]),
    ("From", lambda r: r["from_currency"]),
    ("To", lambda r: r["to_currency"]),
    ("Rate", lambda r: r["rate"]),
    ("Updated", lambda r: r["updated_at"][:19].replace("T", " ")),
)


# a negative rate must reach the validation ("must be > 0"), not be taken for an option
@rate_app.command("set", context_settings={"ignore_unknown_options": True})
def rate_set(
    ctx: typer.Context,
    from_currency: str = typer.Argument(
        ..., help="Currency converted from, e.g. EUR.", metavar="FROM"
    ),
    to_currency: str = typer.Argument(..., help="Currency converted to, e.g. USD.", metavar="TO"),
    rate: str = typer.Argument(
        ..., help="How many TO for one FROM (exact decimal, up to 6 places)."
    ),
) -> None:
    """Set (add or replace) the rate from one currency to another.

    Example: sigma cost rate set EUR USD 1.08
    """
    from sigma.schemas.common import validate
    from sigma.schemas.costs import ExchangeRateCreate

    data = validate(
        ExchangeRateCreate,
        {"from_currency": from_currency, "to_currency": to_currency, "rate": rate},
    )
    r = state(ctx).backend.set_rate(data)
    done(f"1 {r.from_currency} = {r.rate:.6f} {r.to_currency}")


@rate_app.command("list")
def rate_list(
    ctx: typer.Context,
    from_currency: str = O(None, "--from", help="Only rates from this currency."),
    to_currency: str = O(None, "--to", help="Only rates to this currency."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List exchange rates.

    Example: sigma cost rate list --to USD
    """
    from sigma.output import emit

    backend = state(ctx).backend
    rows, page = [], 1
    while True:
        result = backend.list_rates(from_currency, to_currency, page, 100)
        rows += [r.model_dump(mode="json") for r in result.data]
        if not result.data or len(rows) >= result.total:
            break
        page += 1
    from sigma.schemas.costs import ExchangeRate

    emit(rows, fmt, columns=RATE_COLUMNS, quiet=quiet, fields=list(ExchangeRate.model_fields))


@rate_app.command("rm")
def rate_rm(
    ctx: typer.Context,
    ref: list[str] = typer.Argument(..., help="FROM TO (e.g. EUR USD), FROM-TO, or the rate's id."),
) -> None:
    """Remove an exchange rate.

    Example: sigma cost rate rm EUR USD
    """
    from sigma.errors import InvalidInput

    if len(ref) > 2:
        raise InvalidInput("exchange_rate: give FROM TO, FROM-TO or an id", field="exchange_rate")
    r = state(ctx).backend.delete_rate("-".join(ref))
    done(f"Removed rate {r.from_currency} -> {r.to_currency} ({r.rate:.6f})")
