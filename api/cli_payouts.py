"""`podium payouts stripe|giftcards|origin|execute|confirm|return|settle|report`: the tenant's
Stripe key, gift card provider and file payers; an approved payout batch run in the
foreground (what the worker's job does for `executePayoutBatch`); a batch's submitted items
confirmed (a file's on ops' word, a gift card's as the provider shows them); an item
returned, or settled by hand when its provider never answered; what each payee was paid in
a year. Registered onto the typer app by api/cli.py. Bad input is one line on stderr and
exit 2."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]

payouts_app = typer.Typer(
    help="Payouts: the Stripe key, execute a batch, report a year.", no_args_is_help=True
)

# the services name their inputs as the GraphQL arguments do; a command's are its options
_OPTIONS = {"id": "--batch", "batchId": "--batch", "reference": "--reference",
            "reason": "--reason", "item": "--item", "outcome": "--as", "by": "--by",
            "providerChecked": "--checked-provider", "apiKey": "--api-key",
            "apiBase": "--api-base", "webhookSecrets": "--webhook-secret",
            "products": "--product", "fundingSourceId": "--funding-source"}  # fmt: skip


def _named_as_options(work: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """``work``, its refusals naming the command's option (``--batch``), not ``id``."""
    from domain.kit.errors import DomainError

    async def run() -> T:
        try:
            return await work()
        except DomainError as exc:
            exc.field = _OPTIONS.get(exc.field or "", exc.field)
            raise

    return run


@payouts_app.command("execute")
def execute(
    tenant: TenantArg,
    batch: Annotated[str, typer.Option("--batch", help="The batch's id.")],
) -> None:
    """Pay an approved (or executing) batch's pending items, each exactly once: killed
    half-way, run it again. Exit 0 when done, 1 when items are still pending (a provider
    answered nothing certain: run again, or settle one by hand: `podium payouts settle`)."""
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

    summary = cli._with_database(settings.database_url, _named_as_options(run))
    sys.stdout.write(
        f"{batch}: {summary.paid} paid, {summary.failed} failed, {summary.pending} pending"
        f"{'; done' if summary.done else '; run it again for the pending ones'}\n"
    )
    if not summary.done:
        raise typer.Exit(1)


@payouts_app.command("stripe")
def stripe(
    tenant: TenantArg,
    api_key: Annotated[
        str, typer.Option("--api-key", envvar="STRIPE_API_KEY", help="sk_live_/sk_test_/rk_ key.")
    ],
    webhook_secret: Annotated[
        list[str],
        typer.Option(
            "--webhook-secret",
            help="An endpoint's signing secret (whsec_...); "
            "repeat for the platform's and the Connect endpoint's.",
        ),
    ],
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Another Stripe API address (tests).")
    ] = None,
) -> None:
    """The tenant's Stripe platform key and webhook secrets, sealed under
    PODIUM_PAYOUT_DETAILS_SECRET; audited with the key masked."""
    from api import cli
    from domain.org.viewer import Viewer
    from payments.methods.service import set_stripe_config

    settings = cli._settings()

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await set_stripe_config(
                viewer=Viewer.system(found.id, "cli-payouts"),
                secret=settings.payout_details_secret, api_key=api_key,
                webhook_secrets=webhook_secret, api_base=api_base,
            )  # fmt: skip

    config = cli._with_database(settings.database_url, _named_as_options(run))
    sys.stdout.write(f"{tenant}: Stripe key {config.masked_key} set\n")


@payouts_app.command("giftcards")
def giftcards(
    tenant: TenantArg,
    api_key: Annotated[
        str, typer.Option("--api-key", envvar="GIFT_CARDS_API_KEY", help="The provider's key.")
    ],
    api_base: Annotated[
        str, typer.Option("--api-base", help="e.g. https://www.tremendous.com/api/v2")
    ],
    product: Annotated[
        list[str], typer.Option("--product", help="A catalogue product id; repeat for more.")
    ],
    funding_source: Annotated[
        str, typer.Option("--funding-source", help="The provider's funding source id.")
    ] = "BALANCE",
    webhook_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-secret",
            envvar="GIFT_CARDS_WEBHOOK_SECRET",
            help="The provider webhook's private key (POST /webhooks/giftcards/TENANT); "
            "repeat once while rotating. Not given: the stored keys are kept.",
        ),
    ] = None,
    no_webhook_secret: Annotated[
        bool,
        typer.Option(
            "--no-webhook-secret", help="Drop the stored webhook keys: webhooks are refused."
        ),
    ] = False,
) -> None:
    """The tenant's gift card provider (a Tremendous-style API) and its webhook's private
    key(s), sealed under PODIUM_PAYOUT_DETAILS_SECRET; audited with the key masked. Sets the
    whole configuration, but for the webhook keys: kept unless given or dropped."""
    from api import cli
    from domain.org.viewer import Viewer
    from payments.methods.service import set_gift_card_config

    settings = cli._settings()
    if no_webhook_secret and webhook_secret:
        cli._fail("--no-webhook-secret: not with --webhook-secret (drop the keys, or set them)")

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await set_gift_card_config(
                viewer=Viewer.system(found.id, "cli-payouts"),
                secret=settings.payout_details_secret, api_key=api_key, api_base=api_base,
                products=product, funding_source_id=funding_source,
                webhook_secrets=() if no_webhook_secret else webhook_secret or None,
            )  # fmt: skip

    config = cli._with_database(settings.database_url, _named_as_options(run))
    sys.stdout.write(f"{tenant}: gift card key {config.masked_key} set\n")


@payouts_app.command("origin")
def origin(
    tenant: TenantArg,
    method: Annotated[
        str, typer.Option("--method", help="sepa_file, nacha_file, payroll_file or csv_file.")
    ],
    file: Annotated[Path, typer.Option("--file", help="A JSON document of the payer's details.")],
) -> None:
    """The payer of a file method's batches: the SEPA debtor (name, iban, bic, address:
    street, building_number, postal_code, town, country), the ACH originator (odfi_routing,
    odfi_name, immediate_origin, company_name, company_id, entry_description), the ADP
    company (company_code, earnings_code, currency) or the SAP ledger of csv_file batches
    (company_code, accrued_account, payable_account, document_type). Validated, stored,
    audited."""
    import json

    from api import cli
    from domain.org.viewer import Viewer
    from payments.batches.files import set_file_origin
    from payments.payouts.models import PayoutMethod

    try:
        chosen = PayoutMethod(method)
    except ValueError:
        cli._fail("--method: sepa_file, nacha_file, payroll_file or csv_file")
        return
    try:
        values = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        cli._fail(f"--file: {file}: no such file")
        return
    except OSError as exc:  # a folder, no permission
        cli._fail(f"--file: {file}: cannot read: {exc.strerror or exc}")
        return
    except UnicodeDecodeError:
        cli._fail(f"--file: {file}: is not a UTF-8 text file")
        return
    except json.JSONDecodeError as exc:
        cli._fail(f"--file: {file}: not valid JSON: {exc}")
        return
    except RecursionError:
        cli._fail("--file: nested too deeply to be a payer's details")
        return
    if not isinstance(values, dict):
        cli._fail("--file: a JSON object")
        return

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await set_file_origin(viewer=Viewer.system(found.id, "cli-payouts"),
                                         method=chosen, values=values)  # fmt: skip

    cli._with_database(cli._settings().database_url, run)
    sys.stdout.write(f"{tenant}: the payer of {chosen.value} batches is set\n")


@payouts_app.command("confirm")
def confirm(
    tenant: TenantArg,
    batch: Annotated[str, typer.Option("--batch", help="The batch's id.")],
) -> None:
    """An executed batch's submitted items confirmed: a file batch's paid on your word (the
    bank or payroll paid it); a gift card batch's each asked of the provider: executed
    orders paid, failed or canceled ones failed (their statements go to the next batch),
    orders still waiting for approval or that the provider could not be asked about left
    submitted. One line per item (reference, what became of it, why) and a summary; exit 0
    once the provider could be asked, 2 when it could be asked about none (nothing changed)."""
    from api import cli
    from domain.org.viewer import Viewer
    from payments.batches.models import ItemStatus
    from payments.batches.service import confirm_batch

    settings = cli._settings()

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await confirm_batch(viewer=Viewer.system(found.id, "cli-payouts"),
                                       batch_id=batch,
                                       secret=settings.payout_details_secret)  # fmt: skip

    confirmed = cli._with_database(settings.database_url, _named_as_options(run))
    became = {ItemStatus.PAID: "paid", ItemStatus.FAILED: "failed",
              ItemStatus.SUBMITTED: "left submitted"}  # fmt: skip
    for item in confirmed.items:
        why = " ".join(item.why.split())  # a provider's order id never breaks the line
        sys.stdout.write(f"{item.reference}: {became[item.became]}: {why}\n")
    sys.stdout.write(
        f"{batch}: {confirmed.count(ItemStatus.PAID)} paid, "
        f"{confirmed.count(ItemStatus.FAILED)} failed, "
        f"{confirmed.count(ItemStatus.SUBMITTED)} left submitted\n"
    )


@payouts_app.command("return")
def return_item(
    tenant: TenantArg,
    batch: Annotated[str, typer.Option("--batch", help="The batch's id.")],
    reference: Annotated[str, typer.Option("--reference", help="The item's reference.")],
    reason: Annotated[str, typer.Option("--reason", help="The bank's return reason.")],
) -> None:
    """One item of an executed file or gift card batch was not paid or came back (a SEPA or
    NACHA return): failed with the reason, its statement unpaid again."""
    from api import cli
    from domain.org.viewer import Viewer
    from payments.batches.service import return_item as returned

    async def run() -> Any:
        found = await cli._tenant(tenant)
        async with cli.in_transaction():
            return await returned(viewer=Viewer.system(found.id, "cli-payouts"),
                                  batch_id=batch, reference=reference, reason=reason)  # fmt: skip

    cli._with_database(cli._settings().database_url, _named_as_options(run))
    sys.stdout.write(f"{batch}: {reference} returned\n")


@payouts_app.command("settle")
def settle(
    tenant: TenantArg,
    batch: Annotated[str, typer.Option("--batch", help="The batch's id.")],
    item: Annotated[str, typer.Option("--item", help="The item's reference (PB...-2) or id.")],
    settle_as: Annotated[
        str, typer.Option("--as", help="paid (the provider, or another way, paid it) or failed.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why: what the provider shows, who checked.")
    ],
    by: Annotated[
        str, typer.Option("--by", help="Your CRM id in the tenant (an admin or payout ops).")
    ],
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Where the payment is (required with --as paid)."),
    ] = None,
    checked_provider: Annotated[
        bool,
        typer.Option(
            "--checked-provider",
            help="With --as failed: you looked for the payment at the provider yourself, "
            "for when Podium cannot ask it (audited).",
        ),
    ] = False,
) -> None:
    """A pending item whose provider never answered for sure, settled by hand: --as paid
    (its statement paid, as a provider's success) with the transfer, order or bank
    --reference; --as failed (its statement paid by the next batch, under a new key) only
    once Podium has asked the provider and it shows no payment for the item (refused when
    it shows one; when it cannot be asked, refused unless --checked-provider). Audited
    under --by's name with what the provider showed; a rerun never sends it again; a
    payment the provider reports later is flagged."""
    from api import cli
    from domain.kit.errors import Forbidden, NotFound, quoted
    from domain.org.models import Role
    from domain.org.repository import UserRepository
    from domain.org.viewer import Viewer
    from payments.batches.service import settle_item

    settings = cli._settings()

    async def run() -> Any:
        found = await cli._tenant(tenant)
        person = await UserRepository(Viewer.system(found.id, "cli-payouts")).by_external_id(by)
        if person is None:
            raise NotFound(f"no person {quoted(by)} in tenant {quoted(tenant)}", field="--by")
        if person.role not in (Role.ADMIN, Role.PAYOUT_OPS):
            raise Forbidden("only admins and payout ops settle payout items", field="--by")
        viewer = Viewer(tenant_id=found.id, user_id=person.id, role=person.role,
                        request_id="cli-payouts")  # fmt: skip
        async with cli.in_transaction():
            return await settle_item(viewer=viewer, batch_id=batch, item=item,
                                     outcome=settle_as, reason=reason,
                                     secret=settings.payout_details_secret,
                                     reference=reference,
                                     provider_checked=checked_provider)  # fmt: skip

    settled = cli._with_database(settings.database_url, _named_as_options(run))
    sys.stdout.write(f"{batch}: {settled.reference} settled as {settled.status.value} by {by}\n")


@payouts_app.command("report")
def report(
    tenant: TenantArg,
    year: Annotated[int, typer.Option("--year", help="The calendar year, e.g. 2026.")],
) -> None:
    """What each payee was paid through batches in a year, per currency; for a 1099-NEC (US
    payees at or over the year's threshold, or with backup withholding) its box 1 (the gross
    fee) and box 4 (federal income tax withheld)."""
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
        flag = (
            f"  1099-NEC box 1 {format_amount(r.nonemployee_compensation, r.currency)}"
            f" box 4 {format_amount(r.federal_tax_withheld, r.currency)}"
            if r.form_1099_nec
            else ""
        )
        sys.stdout.write(
            f"{r.external_id:<20} {r.currency} {format_amount(r.total, r.currency):>16}{flag}\n"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(payouts_app, name="payouts")
