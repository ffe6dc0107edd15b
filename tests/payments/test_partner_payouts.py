"""Partners are paid what their self-billing invoice says (README "Partner invoices"): a
payout item for a partner's statement pays the invoice's payable (fee + VAT − withholdings,
net of credit notes), a non-partner's the statement total; the journal books the fee and
the input VAT against accrued commissions (the payable) and the withholding payable (what
is kept back for the tax authority); the 1099-NEC report gives the gross fee (box 1) and
the backup withholding (box 4). Through the Stripe stand-in (real HTTP on 127.0.0.1) and a
real SEPA file checked against its XSD."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.org.models import User
from payments.accruals.service import Accounts, journal_csv
from payments.batches import service
from payments.batches.files import set_file_origin
from payments.batches.models import ItemStatus, PayoutBatch, PayoutItem
from payments.invoices.models import Invoice
from payments.invoices.service import set_partner_profile, set_tax_rule
from payments.methods.models import Paid
from payments.methods.sandbox.stripe_connect import StripeStandIn, running
from payments.methods.service import set_stripe_config
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from payments.statements.service import add_adjustment, approve_statements, build_statements
from tests.api.cli_runner import ROOT, podium
from tests.domain.builders import TIERED, make_transaction
from tests.payments.helpers import D, World, close, current, deal, make_world
from tests.xmllint import xsd_accepts

pytestmark = pytest.mark.usefixtures("db")

XSD = ROOT / "payments" / "methods" / "xsd" / "pain.001.001.09.xsd"
ACCOUNTS = {"ann": "acct_1AnnAnnAnnAnn01", "bob": "acct_1BobBobBobBob02",
            "cat": "acct_1CatCatCatCat03"}  # fmt: skip
ADDRESS = {"street": "Sonnenallee", "building_number": "1", "postal_code": "20095",
           "town": "Hamburg", "country": "DE"}  # fmt: skip
DEBTOR = {"name": "Acme Solar GmbH", "iban": "DE02 1203 0000 0000 2020 51", "bic": "BYLADEM1001",
          "address": ADDRESS}  # fmt: skip


@pytest.fixture
async def standin() -> AsyncIterator[StripeStandIn]:
    s = StripeStandIn(api_key="sk_test_51PodiumStandInKey0000000", accounts=set(ACCOUNTS.values()),
                      platform_balance={"eur": 10**9, "usd": 10**9})  # fmt: skip
    async with running(s):
        yield s


async def _october(plan: str = TIERED) -> World:
    """ann an Italian partner (VAT 22%, withholding 23% on half the fee), bob a field rep,
    cat a German partner under reverse charge; ann 250.00, bob 80.00, cat 100.00 earned in
    October, closed and approved."""
    w = await make_world(plan=plan)
    admin = w.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=w["ann"].id, legal_name="Sole Impianti S.r.l.",
        address="Via Roma 1, 20121 Milano", country="IT", tax_id="IT 00743110157",
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="IT", kind="vat", rate=D("22"))
    await set_tax_rule(
        viewer=admin, country="IT", kind="withholding", rate=D("23"), base_share=D("0.5")
    )
    await set_partner_profile(
        viewer=admin, rep_id=w["cat"].id, legal_name="Sonnendach GmbH",
        address="Hauptstr. 1, 10115 Berlin", country="DE", tax_id="DE136695976",
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="DE", kind="reverse_charge", rate=D("19"))
    await deal(w["ann"], "a1", "8000", "2026-10-05")  # 250
    await deal(w["bob"], "b1", "4000", "2026-10-06")  # 80
    await deal(w["cat"], "c1", "5000", "2026-10-07")  # 100
    await close(w, "2026-10")
    await build_statements(viewer=w.system, period="2026-10")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    return w


async def _stripe(w: World, standin: StripeStandIn) -> None:
    for key, account in ACCOUNTS.items():
        await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w[key].id,
                                 method=PayoutMethod.STRIPE, stripe_account_id=account)  # fmt: skip
    await set_stripe_config(viewer=w.system, secret=SECRET, api_key=standin.api_key,
                            webhook_secrets=["whsec_testSecret0000000000001"],
                            api_base=standin.url)  # fmt: skip


async def _pay(
    w: World, method: PayoutMethod, period: str = "2026-10", **kwargs: object
) -> PayoutBatch:
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period=period,
                                           method=method, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    return await PayoutBatch.get(id=batch.id)


async def _items(batch: PayoutBatch) -> dict[str, PayoutItem]:
    items = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    return {i.user.external_id: i for i in items}


async def test_given_partners_when_paid_through_stripe_then_each_gets_the_invoice_payable(
    standin: StripeStandIn,
):
    w = await _october()
    await _stripe(w, standin)

    batch = await _pay(w, PayoutMethod.STRIPE)

    items = await _items(batch)
    # Italy: 250.00 + 55.00 VAT − 28.75 withholding; reverse charge: the fee, no VAT;
    # bob, no partner: his statement's total, as before
    assert {k: (i.amount, i.currency) for k, i in items.items()} == {
        "ann": (D("276.25"), "EUR"), "bob": (D("80"), "EUR"), "cat": (D("100"), "EUR"),
    }  # fmt: skip
    assert batch.total == D("456.25")
    transfers = {t["transfer_group"]: (t["amount"], t["currency"]) for t in standin.transfers}
    assert transfers == {
        items["ann"].reference: (27625, "eur"), items["bob"].reference: (8000, "eur"),
        items["cat"].reference: (10000, "eur"),
    }  # fmt: skip
    assert {i.status for i in items.values()} == {ItemStatus.PAID}
    reverse = await Invoice.get(user_id=w["cat"].id)
    assert reverse.items == [
        {"kind": "reverse_charge", "rate": "19.000000", "base": "100.00", "amount": "0.00"}
    ]


async def test_given_an_italian_partner_in_a_sepa_file_then_the_file_carries_the_payable(
    tmp_path: Path,
):
    w = await _october()
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    milano = {**ADDRESS, "town": "Milano", "postal_code": "20121", "country": "IT"}
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["ann"].id,
                             method=PayoutMethod.SEPA_FILE,
                             iban="IT60 X054 2811 1010 0000 0123 456", address=milano)  # fmt: skip

    batch = await _pay(w, PayoutMethod.SEPA_FILE, rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    assert (item.amount, item.status) == (D("276.25"), ItemStatus.SUBMITTED)
    content = bytes(batch.file_content or b"")
    path = tmp_path / (batch.file_name or "file.xml")
    path.write_bytes(content)
    xsd_accepts(XSD, path)  # xmlschema and xmllint
    assert b'<InstdAmt Ccy="EUR">276.25</InstdAmt>' in content
    assert b"<CtrlSum>276.25</CtrlSum>" in content


async def test_given_a_us_partner_without_a_tin_then_paid_net_of_backup_withholding_and_1099(
    db: str, standin: StripeStandIn
):
    w = await make_world(plan=TIERED.replace("currency: EUR", "currency: USD"))
    admin = w.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=w["cat"].id, legal_name="Sunny Installs LLC",
        address="1 Main St, Austin TX", country="US", tax_id=None,
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="US", kind="backup_withholding", rate=D("24"))
    await User.filter(id__in=[w["cat"].id, w["bob"].id]).update(country="US")
    for rep, amount in (("bob", "4000"), ("cat", "5000")):  # 80.00 and 100.00
        await make_transaction(rep=w[rep], external_id=rep, amount=amount, on="2026-10-06",
                               currency="USD")  # fmt: skip
    await close(w, "2026-10")
    await build_statements(viewer=w.system, period="2026-10")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    await _stripe(w, standin)

    batch = await _pay(w, PayoutMethod.STRIPE)

    items = await _items(batch)
    assert {k: (i.amount, i.currency) for k, i in items.items()} == {
        "bob": (D("80"), "USD"), "cat": (D("76"), "USD"),  # 100.00 − 24.00 withheld
    }  # fmt: skip
    assert sorted(t["amount"] for t in standin.transfers) == [7600, 8000]
    year = items["cat"].updated_at.year
    rows = {r.external_id: r for r in await service.paid_by_payee(viewer=admin, year=year)}
    cat, bob = rows["cat"], rows["bob"]
    # paid 76.00; box 1 the gross fee, box 4 the backup withholding; any backup
    # withholding is reported whatever the amount (IRS instructions for Form 1099-NEC)
    assert (cat.total, cat.nonemployee_compensation, cat.federal_tax_withheld) == (
        D("76"), D("100"), D("24"),
    )  # fmt: skip
    assert cat.form_1099_nec
    assert (bob.total, bob.nonemployee_compensation, bob.federal_tax_withheld) == (
        D("80"), D("80"), D("0"),
    )  # fmt: skip
    assert not bob.form_1099_nec  # under the threshold, nothing withheld
    ran = await podium(db, "payouts", "report", "--tenant", "acme", "--year", str(year))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1].split() == [
        "cat", "USD", "76.00", "1099-NEC", "box", "1", "100.00", "box", "4", "24.00",
    ]  # fmt: skip


async def test_given_a_credit_note_and_a_reapproval_then_the_item_pays_version_2_once(
    standin: StripeStandIn,
):
    w = await _october()
    await _stripe(w, standin)
    ops = w.viewer("ops")
    await add_adjustment(viewer=ops, rep_id=w["ann"].id, period="2026-10", amount=D("50"),
                         currency="EUR", reason="SPIFF")  # fmt: skip
    await approve_statements(viewer=ops, period="2026-10", rep_ids=[w["ann"].id])
    documents = await Invoice.filter(user_id=w["ann"].id).order_by("sequence")
    assert [d.kind for d in documents] == ["invoice", "credit_note", "invoice"]

    batch = await _pay(w, PayoutMethod.STRIPE, rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    # version 2: 300.00 + 66.00 VAT − 34.50 withholding; the invoices and the credit note
    # net to it; version 1's 276.25 is never paid
    assert item.amount == D("331.50") == sum(D(d.payable) for d in documents)
    assert [t["amount"] for t in standin.transfers] == [33150]
    async with in_transaction():
        again = await service.create_batch(viewer=ops, period="2026-10",
                                           method=PayoutMethod.STRIPE)  # fmt: skip
    assert {i.user_id for i in await PayoutItem.filter(batch_id=again.id)} == {
        w["bob"].id, w["cat"].id,
    }  # fmt: skip


def _documents(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """The journal's documents by kind (A accrual, P payment): (account, debit, credit)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["record_type"] == "L":
            out.setdefault(row["reference"][8], []).append(
                (row["gl_account"], row["debit"], row["credit"])
            )
    for lines in out.values():
        assert sum(D(d or "0") - D(c or "0") for _, d, c in lines) == 0  # balanced
    return out


async def test_given_partners_paid_then_the_journal_books_vat_and_withholding_balanced(
    standin: StripeStandIn,
):
    w = await _october()
    await _stripe(w, standin)
    args = {"viewer": w.viewer("ops"), "period": "2026-10", "company_code": "1000",
            "posting_date": date(2026, 11, 3)}  # fmt: skip

    approved = _documents(await journal_csv(**args))  # type: ignore[arg-type]
    # the fee (430.00: 250 + 80 + 100) and Italy's 55.00 VAT against what is owed: the
    # payees 456.25, the tax authority the 28.75 withheld
    assert sorted(approved["A"]) == [
        ("154000", "55.00", ""), ("176000", "", "28.75"), ("210000", "", "456.25"),
        ("610000", "430.00", ""),
    ]  # fmt: skip
    assert "P" not in approved

    await _pay(w, PayoutMethod.STRIPE)

    paid = _documents(await journal_csv(**args))  # type: ignore[arg-type]
    assert paid["A"] == approved["A"]
    assert sorted(paid["P"]) == [("100000", "", "456.25"), ("210000", "456.25", "")]
    accounts = Accounts(input_vat="1576", withholding="1741")
    named = _documents(await journal_csv(**args, accounts=accounts))  # type: ignore[arg-type]
    assert {a for a, _, _ in named["A"]} == {"1576", "1741", "210000", "610000"}


async def test_given_a_partner_paid_through_the_sap_journal_then_it_posts_the_payable(db):
    w = await _october()
    ledger = {"company_code": "1000", "accrued_account": "210000", "payable_account": "219000"}
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.CSV_FILE, values=ledger)

    batch = await _pay(w, PayoutMethod.CSV_FILE, rep_ids=[w["ann"].id])
    async with in_transaction():
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)

    text = bytes(batch.file_content or b"").decode()
    posted = [r for r in csv.reader(io.StringIO(text)) if r[0] == "L"]
    assert [(r[9], r[10], r[11]) for r in posted] == [
        ("210000", "276.25", ""), ("219000", "", "276.25"),
    ]  # fmt: skip
    journal = _documents(
        await journal_csv(
            viewer=w.viewer("ops"),
            period="2026-10",
            company_code="1000",
            posting_date=date(2026, 11, 3),
        )  # fmt: skip
    )
    assert "P" not in journal  # the SAP journal batch posted that payment itself


async def test_given_version_1_reported_paid_after_version_2_then_only_the_difference_is_paid(
    standin: StripeStandIn,
):
    """Version 1's transfer left with no answer, was settled as failed (Stripe showed none),
    the statement changed and was approved again (version 2, a credit note, 331.50); then
    Stripe reports version 1's transfer paid after all (276.25): the next batch pays 55.25,
    the difference not yet paid, not 331.50 beside it."""
    w = await _october()
    await _stripe(w, standin)
    ops = w.viewer("ops")
    standin.faults.refuse = [500, 500, 500]  # stripe-python tries 3 times
    first = await _pay(w, PayoutMethod.STRIPE, rep_ids=[w["ann"].id])
    (item,) = (await _items(first)).values()
    assert (item.status, item.amount) == (ItemStatus.PENDING, D("276.25"))
    async with in_transaction():
        await service.settle_item(viewer=w.viewer("admin"), batch_id=first.id,
                                  item=item.reference, outcome="failed", secret=SECRET,
                                  reason="no transfer in the dashboard, checked")  # fmt: skip
    await add_adjustment(viewer=ops, rep_id=w["ann"].id, period="2026-10", amount=D("50"),
                         currency="EUR", reason="SPIFF")  # fmt: skip
    await approve_statements(viewer=ops, period="2026-10", rep_ids=[w["ann"].id])
    async with in_transaction():
        await service.apply_event_outcome(
            tenant_id=w.tenant.id, outcome=Paid(item.reference, provider_id="tr_late")
        )
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PAID

    second = await _pay(w, PayoutMethod.STRIPE, rep_ids=[w["ann"].id])

    (difference,) = (await _items(second)).values()
    assert difference.amount == D("55.25")  # 331.50 - 276.25
    assert [t["amount"] for t in standin.transfers] == [5525]


# --- a partner's balance carried forward (README "Partner invoices") ---------------------


async def _italian(w: World) -> None:
    admin = w.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=w["ann"].id, legal_name="Sole Impianti S.r.l.",
        address="Via Roma 1, 20121 Milano", country="IT", tax_id="IT 00743110157",
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="IT", kind="vat", rate=D("22"))
    await set_tax_rule(
        viewer=admin, country="IT", kind="withholding", rate=D("23"), base_share=D("0.5")
    )


async def _month(w: World, period: str, amount: str | None, currency: str = "EUR") -> None:
    """ann's deal of ``amount`` in ``period`` (none: no deal), the period closed, its
    statements built and approved."""
    if amount is not None:
        await make_transaction(rep=w["ann"], external_id=f"ann-{period}", amount=amount,
                               on=f"{period}-05", currency=currency)  # fmt: skip
    await close(w, period)
    await build_statements(viewer=w.system, period=period)
    await approve_statements(viewer=w.viewer("ops"), period=period)


async def _october_below_zero(w: World, currency: str = "EUR") -> None:
    """ann's October: 250.00 earned less an adjustment of 370.00, -120.00, approved."""
    await make_transaction(rep=w["ann"], external_id="ann-2026-10", amount="8000",
                           on="2026-10-05", currency=currency)  # fmt: skip
    await close(w, "2026-10")
    await add_adjustment(
        viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-10", amount=D("-370"),
        currency=currency, reason="Demo kit not returned",
    )  # fmt: skip
    await build_statements(viewer=w.system, period="2026-10")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    assert D((await current(w, "ann", "2026-10")).total) == D("-120")


async def _payables(w: World) -> list[D]:
    return [D(i.payable) for i in await Invoice.filter(user_id=w["ann"].id).order_by("sequence")]


async def test_given_a_partner_balance_carried_forward_then_november_recovers_octobers_payable(
    standin: StripeStandIn,
):
    w = await make_world()
    await _italian(w)
    await _october_below_zero(w)
    await _month(w, "2026-11", "13000")  # 500.00 - 120.00 carried: 380.00
    await _stripe(w, standin)
    # October's invoice: -120.00 - 26.40 VAT + 13.80 withholding; November's: 500.00 +
    # 110.00 - 57.50
    assert await _payables(w) == [D("-132.60"), D("552.50")]

    batch = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    # November pays its payable less October's, never recovered otherwise: the invoices
    # net to it (it paid 552.50, and October's -132.60 was lost)
    assert item.amount == D("419.90") == sum(await _payables(w))
    assert [t["amount"] for t in standin.transfers] == [41990]
    assert (await Statement.get(id=item.statement_id)).status == "paid"


async def test_given_a_partner_balance_carried_twice_then_december_recovers_both_payables(
    standin: StripeStandIn,
):
    w = await make_world()
    await _italian(w)
    await _october_below_zero(w)
    await _month(w, "2026-11", "5000")  # 100.00 - 120.00: -20.00, carried on
    await _month(w, "2026-12", "13000")  # 500.00 - 20.00: 480.00
    await _stripe(w, standin)
    assert (await current(w, "ann", "2026-11")).status == "carried"
    # 100.00 + 22.00 - 11.50 = 110.50 in November
    assert await _payables(w) == [D("-132.60"), D("110.50"), D("552.50")]

    batch = await _pay(w, PayoutMethod.STRIPE, "2026-12", rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    # December's 552.50 less what November owed: 110.50 less October's 132.60
    assert item.amount == D("530.40") == sum(await _payables(w))


async def test_given_a_rep_balance_carried_into_a_partner_statement_then_it_owes_its_total(
    standin: StripeStandIn,
):
    w = await make_world()
    await _october_below_zero(w)  # ann no partner yet: no invoice, -120.00 owed
    await _italian(w)
    await _month(w, "2026-11", "13000")
    await _stripe(w, standin)
    assert await _payables(w) == [D("552.50")]

    batch = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    assert item.amount == D("432.50")  # 552.50 - 120.00


async def test_given_a_us_partner_balance_carried_forward_then_the_1099_boxes_net_it(
    standin: StripeStandIn,
):
    w = await make_world(plan=TIERED.replace("currency: EUR", "currency: USD"))
    admin = w.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=w["ann"].id, legal_name="Sunny Installs LLC",
        address="1 Main St, Austin TX", country="US", tax_id=None,
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="US", kind="backup_withholding", rate=D("24"))
    await User.filter(id=w["ann"].id).update(country="US")
    await _october_below_zero(w, "USD")  # -120.00 + 28.80 backup withholding: -91.20
    await _month(w, "2026-11", "13000", "USD")  # 500.00 - 120.00: 380.00 payable
    await _stripe(w, standin)

    batch = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])

    (item,) = (await _items(batch)).values()
    assert item.amount == D("288.80") == sum(await _payables(w))
    rows = await service.paid_by_payee(viewer=admin, year=item.updated_at.year)
    (ann,) = [r for r in rows if r.external_id == "ann"]
    # box 1 the gross fee paid (500.00 less October's -120.00), box 4 the backup
    # withholding (120.00 less October's 28.80): paid 380.00 - 91.20
    assert (ann.total, ann.nonemployee_compensation, ann.federal_tax_withheld) == (
        D("288.80"), D("380"), D("91.20"),
    )  # fmt: skip
    assert ann.form_1099_nec


async def test_given_a_partner_balance_carried_forward_then_the_journal_books_the_cash_paid(
    standin: StripeStandIn,
):
    w = await make_world()
    await _italian(w)
    await _october_below_zero(w)
    await _month(w, "2026-11", "13000")
    await _stripe(w, standin)
    await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])  # 419.90
    args = {"viewer": w.viewer("ops"), "company_code": "1000",
            "posting_date": date(2026, 12, 3)}  # fmt: skip

    october = _documents(await journal_csv(period="2026-10", **args))  # type: ignore[arg-type]
    november = _documents(await journal_csv(period="2026-11", **args))  # type: ignore[arg-type]

    # October's carried invoice books its own fee (250.00 - 370.00), VAT and withholding,
    # all below zero: the partner owes 132.60 (accrued commissions, a debit) ...
    assert sorted(october["A"]) == [
        ("154000", "", "26.40"), ("176000", "13.80", ""), ("210000", "132.60", ""),
        ("610000", "", "370.00"), ("610000", "250.00", ""),
    ]  # fmt: skip
    assert "P" not in october  # carried: no cash
    # ... November its own, and its cash is what the item paid (not 380.00 + 110.00 - 57.50
    # = 432.50): accrued commissions net to zero (132.60 - 552.50 + 419.90), and the balance
    # carried is a settlement, not an expense
    assert sorted(november["A"]) == [
        ("154000", "110.00", ""), ("176000", "", "57.50"), ("210000", "", "552.50"),
        ("610000", "500.00", ""),
    ]  # fmt: skip
    assert sorted(november["P"]) == [("100000", "", "419.90"), ("210000", "419.90", "")]


async def test_given_a_carrying_version_paid_late_then_version_2_pays_the_rest_and_1099_once(
    standin: StripeStandIn,
):
    """November (carrying October's -132.60) left pending, settled as failed, changed and
    approved again; then Stripe reports version 1's 419.90 paid after all: version 2 pays
    the rest, and the 1099's fee counts October's carried -120.00 once, with version 2."""
    w = await make_world()
    await _italian(w)
    await _october_below_zero(w)
    await _month(w, "2026-11", "13000")
    await _stripe(w, standin)
    standin.faults.refuse = [500, 500, 500]  # stripe-python tries 3 times
    first = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])
    (item,) = (await _items(first)).values()
    assert (item.status, item.amount) == (ItemStatus.PENDING, D("419.90"))
    async with in_transaction():
        await service.settle_item(viewer=w.viewer("admin"), batch_id=first.id,
                                  item=item.reference, outcome="failed", secret=SECRET,
                                  reason="no transfer in the dashboard, checked")  # fmt: skip
    await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-11",
                         amount=D("50"), currency="EUR", reason="SPIFF")  # fmt: skip
    await approve_statements(viewer=w.viewer("ops"), period="2026-11", rep_ids=[w["ann"].id])
    async with in_transaction():
        await service.apply_event_outcome(
            tenant_id=w.tenant.id, outcome=Paid(item.reference, provider_id="tr_late")
        )

    second = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])

    (rest,) = (await _items(second)).values()
    # version 2: 550.00 + 121.00 - 63.25 = 607.75, less October's 132.60: 475.15, of which
    # version 1's item paid 419.90
    assert rest.amount == D("55.25")
    assert D("419.90") + rest.amount == sum(await _payables(w))
    rows = await service.paid_by_payee(viewer=w.viewer("admin"), year=rest.updated_at.year)
    (ann,) = [r for r in rows if r.external_id == "ann"]
    # box 1: 550.00 - 120.00 (version 1, its invoice cancelled, reports nothing)
    assert (ann.total, ann.nonemployee_compensation) == (D("475.15"), D("430"))


async def test_given_version_1_paid_late_beyond_version_2_then_the_overpayment_is_carried(
    standin: StripeStandIn,
):
    """November's 500.00 (no partner) left pending, settled as failed, adjusted by -300.00
    and approved again (version 2, 200.00); then Stripe reports version 1's 500.00 paid
    after all: ann was paid 300.00 more than she is owed. That is a balance she owes,
    listed and carried into December, not settled as paid by `statements pay`."""
    from payments.statements.service import balances_owed, mark_paid

    w = await make_world()
    await _stripe(w, standin)
    await _month(w, "2026-11", "13000")  # 500.00
    standin.faults.refuse = [500, 500, 500]
    first = await _pay(w, PayoutMethod.STRIPE, "2026-11", rep_ids=[w["ann"].id])
    (item,) = (await _items(first)).values()
    async with in_transaction():
        await service.settle_item(viewer=w.viewer("admin"), batch_id=first.id,
                                  item=item.reference, outcome="failed", secret=SECRET,
                                  reason="no transfer in the dashboard, checked")  # fmt: skip
    await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-11",
                         amount=D("-300"), currency="EUR", reason="Deal cancelled")  # fmt: skip
    await approve_statements(viewer=w.viewer("ops"), period="2026-11", rep_ids=[w["ann"].id])
    async with in_transaction():
        await service.apply_event_outcome(
            tenant_id=w.tenant.id, outcome=Paid(item.reference, provider_id="tr_late")
        )
    november = await current(w, "ann", "2026-11")

    [owed] = await balances_owed(viewer=w.viewer("ops"))
    assert (owed.statement_id, owed.version, owed.owed) == (november.id, 2, D("-300"))
    await mark_paid(viewer=w.viewer("ops"), period="2026-11")
    assert (await Statement.get(id=november.id)).status == "approved"
    await _month(w, "2026-12", "13000")  # 500.00

    december = await current(w, "ann", "2026-12")
    assert D(december.total) == D("200")  # 500.00 less the 300.00 paid too much
    assert (await Statement.get(id=november.id)).status == "carried"
