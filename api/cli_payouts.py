"""`podium payouts execute|report`: run an approved payout batch in the foreground (what the
worker's job does for `executePayoutBatch`), and what each payee was paid in a year.
Registered onto the typer app by api/cli.py. Bad input is one line on stderr and exit 2."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]

payouts_app = typer.Typer(help="Payout batches: execute one, report a year.", no_args_is_help=True)


@payouts_app.command("execute")
def execute(
    tenant: TenantArg,
    batch: Annotated[str, typer.Option("--batch", help="The batch's id.")],
) -> None:
    """Pay an approved (or executing) batch's pending items, each exactly once: killed
    half-way, run it again. Exit 0 when done, 1 when items are still pending (a provider
    answered nothing certain: run again)."""
    from uuid import UUID

    from api import cli
    from domain.org.viewer import Viewer
    from payments.batches.service import execute_batch, start_execution

    settings = cli._settings()

    async def run() -> Any:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-payouts")
        async with cli.in_transaction():
            started = await start_execution(viewer=viewer, batch_id=batch)
        return await execute_batch(
            tenant_id=found.id, batch_id=UUID(str(started.id)),
            secret=settings.payout_details_secret,
        )  # fmt: skip

    summary = cli._with_database(settings.database_url, run)
    sys.stdout.write(
        f"{batch}: {summary.paid} paid, {summary.failed} failed, {summary.pending} pending"
        f"{'; done' if summary.done else '; run it again for the pending ones'}\n"
    )
    if not summary.done:
        raise typer.Exit(1)


@payouts_app.command("report")
def report(
    tenant: TenantArg,
    year: Annotated[int, typer.Option("--year", help="The calendar year, e.g. 2026.")],
) -> None:
    """What each payee was paid through batches in a year, per currency (1099-NEC: US
    payees at or over the year's threshold)."""
    from api import cli
    from domain.kit.money import format_amount
    from domain.org.viewer import Viewer
    from payments.batches.service import paid_by_payee

    async def run() -> Any:
        found = await cli._tenant(tenant)
        return await paid_by_payee(viewer=Viewer.system(found.id, "cli-payouts"), year=year)

    rows = cli._with_database(cli._settings().database_url, run)
    if not rows:
        sys.stdout.write(f"{year}: nobody was paid through a batch\n")
    for r in rows:
        flag = "  1099-NEC" if r.form_1099_nec else ""
        sys.stdout.write(
            f"{r.external_id:<20} {r.currency} {format_amount(r.total, r.currency):>16}{flag}\n"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(payouts_app, name="payouts")
