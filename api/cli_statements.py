"""`podium statements build|show|invoices|pay|journal`: a closed period's statements from the
command line (`podium close` builds them as it closes), the partners' invoices and credit
notes, what a payout run records once the money left, and the SAP journal upload CSV for
finance. Registered onto the typer app by
api/cli.py. Bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
PeriodArg = Annotated[str, typer.Option("--period", help="The period, e.g. 2026-10.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
]

statements_app = typer.Typer(
    help="Statements: build a closed period's, show them, mark them paid, export the journal.",
    no_args_is_help=True,
)


def _run(tenant: str, label: str, work: Any) -> Any:
    from api import cli
    from domain.org.viewer import Viewer

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await work(Viewer.system(found.id, label))

    return cli._with_database(cli._settings().database_url, run)


@statements_app.command("build")
def build(tenant: TenantArg, period: PeriodArg) -> None:
    """Draft statements for the payees of a closed period that have none yet."""
    from payments.statements.service import build_statements

    summary = _run(tenant, "cli-statements", lambda v: build_statements(viewer=v, period=period))
    sys.stdout.write(
        f"{summary.period}: {summary.built} statement(s) built, {summary.statements} in all\n"
    )
    for line in summary.error_lines():
        sys.stdout.write(f"  {line}\n")


@statements_app.command("show")
def show(tenant: TenantArg, period: PeriodArg) -> None:
    """The period's statements in force: how many and their totals, per currency and status;
    then the balances below zero carried into them or out of them, per payee."""
    from domain.kit.money import format_amount
    from payments.statements.service import carried_balances, statement_totals

    async def read(viewer: Any) -> tuple[list[dict[str, Any]], list[str]]:
        return (
            await statement_totals(viewer=viewer, period=period),
            await carried_balances(viewer=viewer, period=period),
        )

    rows, carried = _run(tenant, "cli-statements", read)
    if not rows:
        sys.stdout.write(f"{period}: no statements\n")
    for r in rows:
        total = format_amount(r["total"], r["currency"])
        sys.stdout.write(f"{period} {r['currency']} {r['status']}: {r['n']}, {total}\n")
    for line in carried:
        sys.stdout.write(f"  {line}\n")


@statements_app.command("invoices")
def list_invoices(tenant: TenantArg, period: PeriodArg) -> None:
    """The partners' invoices and credit notes of the period's statements, in number order:
    net, each tax item, what is paid; a credit note names the invoice it cancels."""
    from domain.kit.money import format_amount
    from payments.invoices.service import invoices_of_period

    rows = _run(tenant, "cli-invoices", lambda v: invoices_of_period(v, period))
    if not rows:
        sys.stdout.write(f"{period}: no invoices\n")
    for r in rows:
        currency = r["currency"]
        items = "".join(
            f" {i['kind']} {format_amount(Decimal(i['amount']), currency)}"
            for i in json.loads(r["items"])
        )
        what = "credit note for " + r["cancels"] if r["cancels"] else "invoice"
        sys.stdout.write(
            f"{r['number']} {what}: {r['payee']} v{r['version']} {currency} net "
            f"{format_amount(r['net'], currency)}{items} payable "
            f"{format_amount(r['payable'], currency)}\n"
        )


@statements_app.command("pay")
def pay(tenant: TenantArg, period: PeriodArg) -> None:
    """Record the period's approved statements as paid (once the money left)."""
    from payments.statements.service import mark_paid, owed_statements

    count = _run(tenant, "cli-statements", lambda v: mark_paid(viewer=v, period=period))
    sys.stdout.write(f"{period}: {count} statement(s) marked paid\n")
    owed = _run(tenant, "cli-statements", lambda v: owed_statements(viewer=v, period=period))
    if owed:
        sys.stdout.write(
            f"{period}: {owed} statement(s) below zero left approved: a balance the payee "
            "owes, not a payment; the payee's next statement built carries it\n"
        )


@statements_app.command("balances")
def balances(tenant: TenantArg) -> None:
    """The balances payees owe, not carried yet (an approved statement owing below zero: a
    partner's in their invoices' terms): per payee, currency and period, with how long ago
    it was approved. The payee's next statement built in that currency carries each; one
    of a payee with no statement since (no earnings, left, paid in another currency) stays
    here until then."""
    from domain.kit.money import format_amount
    from payments.statements.service import balances_owed

    found = _run(tenant, "cli-statements", lambda v: balances_owed(viewer=v))
    if not found:
        sys.stdout.write("no balance owed\n")
    for currency in sorted({b.currency for b in found}):
        owed = [b for b in found if b.currency == currency]
        total = format_amount(sum(b.owed for b in owed), currency)
        sys.stdout.write(f"{currency}: {len(owed)} balance(s) owed, {total}\n")
        for b in owed:
            sys.stdout.write(f"  {b.line()}\n")


@statements_app.command("journal")
def journal(
    tenant: TenantArg,
    period: PeriodArg,
    company_code: Annotated[str, typer.Option("--company-code", help="SAP company code.")],
    posting_date: Annotated[
        str | None, typer.Option("--posting-date", help="YYYY-MM-DD (default: today).")
    ] = None,
    expense: Annotated[str, typer.Option("--expense-account")] = "610000",
    accrued: Annotated[str, typer.Option("--accrued-account")] = "210000",
    cash: Annotated[str, typer.Option("--cash-account")] = "100000",
    input_vat: Annotated[
        str, typer.Option("--input-vat-account", help="Input VAT on partners' invoices.")
    ] = "154000",
    withholding: Annotated[
        str,
        typer.Option(
            "--withholding-account",
            help="What partners' invoices withhold (owed to the tax authorities).",
        ),
    ] = "176000",
    output: OutputOption = None,
) -> None:
    """The period's journal entries (expense and partners' input VAT / accrued commissions
    and withholding payable / cash) as CSV for SAP's journal entry upload: balanced
    documents of at most 999 lines."""
    from api import cli
    from domain.kit.errors import quoted
    from payments.accruals.service import Accounts, journal_csv

    try:
        posted = date.fromisoformat(posting_date) if posting_date else date.today()  # noqa: DTZ011
    except ValueError:
        cli._fail(f"--posting-date: {posting_date!r} is not a date (YYYY-MM-DD)")
        return
    for option, account in (
        ("--expense-account", expense), ("--accrued-account", accrued), ("--cash-account", cash),
        ("--input-vat-account", input_vat), ("--withholding-account", withholding),
    ):  # fmt: skip
        if not (account.isascii() and account.isdigit() and len(account) <= 10):
            cli._fail(f"{option}: {quoted(account)} is not a G/L account (1 to 10 digits)")
    accounts = Accounts(expense=expense, accrued=accrued, cash=cash, input_vat=input_vat,
                        withholding=withholding)  # fmt: skip
    text = _run(
        tenant,
        "cli-journal",
        lambda v: journal_csv(
            viewer=v, period=period, company_code=company_code, posting_date=posted,
            accounts=accounts,
        ),
    )  # fmt: skip
    if output is None:
        sys.stdout.write(text)
    else:
        cli._write_output(output, text)


def register(app: typer.Typer) -> None:
    app.add_typer(statements_app, name="statements")
