"""File-method payout batches: SEPA, NACHA and ADP payroll files written once per batch from
the tenant's payer (validated when set), read back by independent validators (xmlschema and
xmllint, achkit), the same bytes when written again, behind a signed link; items submitted
until payout ops confirm the bank paid them; killed before the commit, the rerun writes the
same file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import achkit
import pytest
import xmlschema
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from payments.batches import service
from payments.batches.errors import BatchError, BatchStateError
from payments.batches.files import batch_file, origin_of, set_file_origin
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.methods.errors import MethodConfigError
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from tests.api.cli_runner import ROOT
from tests.payments.helpers import World, approved_october, execute_in_process, make_world
from tests.xmllint import xsd_accepts

XSD = ROOT / "payments" / "methods" / "xsd" / "pain.001.001.09.xsd"
ADDRESS = {"street": "Sonnenallee", "building_number": "1", "postal_code": "20095",
           "town": "Hamburg", "country": "DE"}  # fmt: skip
DEBTOR = {"name": "Acme Solar GmbH", "iban": "DE02 1203 0000 0000 2020 51", "bic": "BYLADEM1001",
          "address": ADDRESS}  # fmt: skip
ORIGIN = {"odfi_routing": "091000019", "odfi_name": "Wells Fargo",
          "immediate_origin": "1234567890", "company_name": "Acme Solar Inc",
          "company_id": "1234567890", "entry_description": "COMMISSION"}  # fmt: skip


async def _world(method: PayoutMethod) -> World:
    w = await make_world()
    await approved_october(w)
    for n, key in enumerate(("ann", "bob"), start=1):
        details: dict[str, object] = {
            PayoutMethod.SEPA_FILE: {"iban": f"DE89 3704 0044 0532 0130 0{n - 1}"
                                     if n == 1 else "DE02 1203 0000 0000 2020 51",
                                     "address": ADDRESS},
            PayoutMethod.NACHA_FILE: {"routing_number": "021000021",
                                      "account_number": f"12345678{n}"},
            PayoutMethod.PAYROLL_FILE: {"payroll_employee_id": f"00004{n}"},
        }[method]  # fmt: skip
        await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w[key].id,
                                 method=method, **details)  # fmt: skip
    return w


async def _run(w: World, method: PayoutMethod) -> PayoutBatch:
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=method)  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    summary = await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    assert summary.done
    return await PayoutBatch.get(id=batch.id)


def _xmllint_accepts(path: Path) -> None:
    xsd_accepts(XSD, path)


async def _statuses(batch: PayoutBatch) -> dict[str, ItemStatus]:
    items = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    return {i.user.external_id: i.status for i in items}


async def test_given_a_sepa_batch_when_executed_then_one_valid_file_and_paid_once_confirmed(
    db, tmp_path: Path
):
    w = await _world(PayoutMethod.SEPA_FILE)
    with pytest.raises(BatchError, match="no payer for sepa_file") as refused:
        await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                   method=PayoutMethod.SEPA_FILE)  # fmt: skip
    assert refused.value.field == "method"
    with pytest.raises(MethodConfigError) as bad:
        await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE,
                              values={**DEBTOR, "iban": "DE00 1234"})  # fmt: skip
    assert bad.value.field == "debtor.iban"
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)

    batch = await _run(w, PayoutMethod.SEPA_FILE)

    assert batch.status is BatchStatus.DONE
    assert await _statuses(batch) == {"ann": ItemStatus.SUBMITTED, "bob": ItemStatus.SUBMITTED,
                                      "cat": ItemStatus.FAILED}  # fmt: skip
    content = bytes(batch.file_content or b"")
    xmlschema.XMLSchema(XSD).validate(content.decode())  # an independent reader
    path = tmp_path / (batch.file_name or "file.xml")
    path.write_bytes(content)
    _xmllint_accepts(path)
    references = sorted(
        await PayoutItem.filter(batch_id=batch.id, status=ItemStatus.SUBMITTED).values_list(
            "reference", flat=True
        )
    )
    for reference in references:
        assert f"<EndToEndId>{reference}</EndToEndId>".encode() in content
    # written again from the same batch: the same bytes
    items = await PayoutItem.filter(batch_id=batch.id, status=ItemStatus.SUBMITTED).order_by(
        "position"
    )
    from payments.payouts.service import payout_account

    again = [
        await service._instruction(
            batch, i, await payout_account(tenant_id=w.tenant.id, user_id=i.user_id, secret=SECRET)
        )  # fmt: skip
        for i in items
    ]
    origin = await origin_of(w.tenant.id, PayoutMethod.SEPA_FILE)
    assert batch_file(batch, origin, again).content == content
    statuses = await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    assert sorted(statuses) == ["approved"] * 3  # not paid until the bank did

    async with in_transaction():
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)

    assert await _statuses(batch) == {"ann": ItemStatus.PAID, "bob": ItemStatus.PAID,
                                      "cat": ItemStatus.FAILED}  # fmt: skip
    statuses = await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    assert sorted(statuses) == ["approved", "paid", "paid"]
    with pytest.raises(BatchStateError):
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)


async def test_given_a_nacha_batch_then_achkit_accepts_its_file(db):
    w = await _world(PayoutMethod.NACHA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.NACHA_FILE, values=ORIGIN)
    # NACHA pays dollars: the world's statements are in euros, made dollars here
    await Statement.filter(tenant_id=w.tenant.id).update(currency="USD")

    batch = await _run(w, PayoutMethod.NACHA_FILE)

    text = bytes(batch.file_content or b"").decode()
    assert achkit.validate(text) == {"ok": True, "errors": []}
    assert all(len(line) == 94 for line in text.splitlines())
    assert (await _statuses(batch))["ann"] is ItemStatus.SUBMITTED


async def test_given_a_payroll_batch_then_a_paydata_line_per_payee(db):
    w = await _world(PayoutMethod.PAYROLL_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.PAYROLL_FILE,
                          values={"company_code": "AC1", "earnings_code": "C",
                                  "currency": "EUR"})  # fmt: skip

    batch = await _run(w, PayoutMethod.PAYROLL_FILE)

    text = bytes(batch.file_content or b"").decode()
    ann = await Statement.get(tenant_id=w.tenant.id, user_id=w["ann"].id)
    assert "000041" in text
    assert str(Decimal(ann.total).quantize(Decimal("0.01"))) in text
    assert (await _statuses(batch))["bob"] is ItemStatus.SUBMITTED


async def test_given_the_file_write_killed_before_its_commit_then_the_rerun_writes_it(
    db: str,
):
    w = await _world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.SEPA_FILE)  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)

    assert (await execute_in_process(db, batch.id, PODIUM_TEST_KILL_AT="file_written:1"))[0] == -9
    stored = await PayoutBatch.get(id=batch.id)
    assert (stored.status, stored.file_content) == (BatchStatus.EXECUTING, None)
    assert set((await _statuses(batch)).values()) == {ItemStatus.PENDING}

    assert (await execute_in_process(db, batch.id))[0] == 0

    stored = await PayoutBatch.get(id=batch.id)
    assert stored.status is BatchStatus.DONE
    xmlschema.XMLSchema(XSD).validate(bytes(stored.file_content or b"").decode())


LEDGER = {"company_code": "1000", "accrued_account": "210000", "payable_account": "219000"}


def _documents(text: str) -> list[list[list[str]]]:
    """The journal CSV's documents read back with the csv module: each its H row and lines."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["record_type", "company_code", "document_type"]
    documents: list[list[list[str]]] = []
    for row in rows[1:]:
        if row[0] == "H":
            documents.append([row])
        else:
            assert row[0] == "L"
            assert documents
            documents[-1].append(row)
    return documents


def _balanced(document: list[list[str]]) -> Decimal:
    debit = sum(Decimal(r[10]) for r in document[1:] if r[10])
    credit = sum(Decimal(r[11]) for r in document[1:] if r[11])
    assert debit == credit, document[0]
    return debit


async def test_given_a_sap_journal_batch_then_every_payee_posted_balanced_and_confirmed(db):
    w = await _world(PayoutMethod.SEPA_FILE)  # ann and bob paid by SEPA, cat by nothing
    with pytest.raises(MethodConfigError) as bad:
        await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.CSV_FILE,
                              values={**LEDGER, "payable_account": "210000"})  # fmt: skip
    assert bad.value.field == "payableAccount"
    with pytest.raises(MethodConfigError) as bad:
        await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.CSV_FILE,
                              values={**LEDGER, "company_code": "acme-1"})  # fmt: skip
    assert bad.value.field == "companyCode"
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.CSV_FILE, values=LEDGER)

    batch = await _run(w, PayoutMethod.CSV_FILE)

    # SAP pays from its own master data: every payee is in, whatever their own method
    assert await _statuses(batch) == {k: ItemStatus.SUBMITTED for k in ("ann", "bob", "cat")}
    content = bytes(batch.file_content or b"")
    [document] = _documents(content.decode())
    header, lines = document[0], document[1:]
    assert header[:3] == ["H", "1000", "SA"]
    assert len(header[6]) == 16
    statements = {s.user_id: Decimal(s.total)
                  for s in await Statement.filter(tenant_id=w.tenant.id)}  # fmt: skip
    assert _balanced(document) == sum(statements.values())
    items = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    for item in items:
        posted = [r for r in lines if r[12] == f"{item.reference} {item.user.external_id}"]
        assert [(r[9], r[10], r[11]) for r in posted] == [
            ("210000", f"{statements[item.user_id]:.2f}", ""),
            ("219000", "", f"{statements[item.user_id]:.2f}"),
        ]
        assert item.provider_id == header[6]
    again = [await service._instruction(batch, i, service.PayoutAccount(PayoutMethod.CSV_FILE))
             for i in sorted(items, key=lambda i: i.position)]  # fmt: skip
    origin = await origin_of(w.tenant.id, PayoutMethod.CSV_FILE)
    assert batch_file(batch, origin, again).content == content  # the same bytes

    async with in_transaction():
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)

    assert set((await _statuses(batch)).values()) == {ItemStatus.PAID}
    # the period's journal books no second payment of what the SAP journal posted
    from datetime import date

    from payments.accruals.service import journal_csv

    journal = await journal_csv(viewer=w.viewer("ops"), period="2026-10", company_code="1000",
                                posting_date=date(2026, 11, 30))  # fmt: skip
    kinds = [d[0][6][8] for d in _documents(journal)]  # PD202610<kind><n>...
    assert kinds == ["A"]


def test_given_a_thousand_payees_then_sap_documents_of_at_most_999_lines_each_balanced():
    from datetime import date

    from payments.methods.sap import SapLedger, journal_file
    from payments.payouts.validation import PayoutAccount
    from tests.payments.factories import instruction

    sap = PayoutAccount(PayoutMethod.CSV_FILE)
    given = [instruction(n, sap, amount=f"{n}.{n % 100:02d}") for n in range(1, 1001)]
    given = [replace_code(i, f"V{n:05d}") for n, i in enumerate(given, start=1)]
    given.append(given[0])  # the same reference twice: the second is refused
    given.append(replace_code(instruction(2000, sap, currency="EUR"), ""))  # no external id
    written = journal_file(instructions=given, ledger=SapLedger.of(**LEDGER),
                           batch_id="ABCDEF0123", posting_date=date(2026, 11, 2),
                           period="2026-10")  # fmt: skip

    documents = _documents(written.content.decode())
    assert [len(d) - 1 for d in documents] == [998, 998, 4]
    assert sum(_balanced(d) for d in documents) == sum(i.amount for i in given[:1000])
    assert len({d[0][6] for d in documents}) == 3  # a reference per document
    failed = [o for o in written.outcomes if o.__class__.__name__ == "Failed"]
    assert [(f.code, f.reference) for f in failed] == [  # type: ignore[attr-defined]
        ("duplicate", given[0].reference), ("payee", given[-1].reference),
    ]  # fmt: skip
    again = journal_file(instructions=given, ledger=SapLedger.of(**LEDGER), batch_id="ABCDEF0123",
                         posting_date=date(2026, 11, 2), period="2026-10")  # fmt: skip
    assert again.content == written.content


def replace_code(i, code: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(i, payee_code=code)


async def test_given_a_bank_return_of_one_item_then_it_fails_and_its_statement_is_unpaid(db: str):
    """A SEPA file confirmed paid, then the bank returns bob's transfer (pacs.004: account
    closed): bob's item fails with the reason and his statement waits for the next batch;
    ann's stays paid. Bad input is named and changes nothing."""
    from domain.kit.errors import NotFound
    from tests.api.cli_runner import podium

    w = await _world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    batch = await _run(w, PayoutMethod.SEPA_FILE)
    bob = await PayoutItem.get(batch_id=batch.id, user_id=w["bob"].id)
    async with in_transaction():
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)

    for args, field in (
        ({"reference": bob.reference, "reason": ""}, "reason"),
        # shown on the item and in its audit, as a settle's reason: refused as there
        ({"reference": bob.reference, "reason": "AC04 \x1b[2Jclosed"}, "reason"),
        ({"reference": bob.reference, "reason": "AC04 \u202eclosed"}, "reason"),
        ({"reference": "PB-unknown", "reason": "AC04 account closed"}, "reference"),
    ):
        with pytest.raises((BatchError, NotFound)) as refused:
            await service.return_item(viewer=w.viewer("ops"), batch_id=batch.id, **args)
        assert refused.value.field == field
    ran = await podium(db, "payouts", "return", "--tenant", "acme", "--batch", str(batch.id),
                       "--reference", bob.reference, "--reason", "x")  # fmt: skip
    ran.one_line_error("reason")
    assert (await PayoutItem.get(id=bob.id)).status is ItemStatus.PAID  # nothing changed

    ran = await podium(db, "payouts", "return", "--tenant", "acme", "--batch", str(batch.id),
                       "--reference", bob.reference, "--reason", "AC04 account closed")  # fmt: skip
    assert ran.returncode == 0, ran.stderr

    returned = await PayoutItem.get(id=bob.id)
    assert (returned.status, returned.failure_code, returned.failure_reason) == (
        ItemStatus.FAILED, "returned", "AC04 account closed",
    )  # fmt: skip
    assert await _statuses(batch) == {"ann": ItemStatus.PAID, "bob": ItemStatus.FAILED,
                                      "cat": ItemStatus.FAILED}  # fmt: skip
    status = {s.user_id: s.status for s in await Statement.filter(tenant_id=w.tenant.id)}
    assert (status[w["ann"].id], status[w["bob"].id]) == ("paid", "approved")
    with pytest.raises(BatchStateError):  # once is enough
        await service.return_item(viewer=w.viewer("ops"), batch_id=batch.id,
                                  reference=bob.reference, reason="AC04 again")  # fmt: skip
    # bob's amount is unpaid again: the next batch takes it
    async with in_transaction():
        again = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.SEPA_FILE)  # fmt: skip
    assert {i.user_id for i in await PayoutItem.filter(batch_id=again.id)} == {
        w["bob"].id, w["cat"].id,
    }  # fmt: skip


async def test_given_a_bad_payer_file_then_one_line_naming_it_and_nothing_stored(
    db: str, tmp_path: Path
):
    """`podium payouts origin`: a file nested too deeply, a list, an unknown key, an account
    that is no G/L account: one line on stderr naming it, exit 2, no traceback."""
    from domain.tenants.models import Tenant
    from tests.api.cli_runner import podium

    w = await make_world()
    cases = {
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "list.json": ("[]", "a JSON object"),
        "extra.json": ('{"company_code": "1000", "accrued_account": "210000", '
                       '"payable_account": "219000", "extra": 1}', "origin"),
        "account.json": ('{"company_code": "1000", "accrued_account": "210000", '
                         '"payable_account": "9' + "9" * 30 + '"}', "payableAccount"),
    }  # fmt: skip
    for name, (text, named) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        ran = await podium(db, "payouts", "origin", "--tenant", "acme", "--method", "csv_file",
                           "--file", tmp_path / name)  # fmt: skip
        ran.one_line_error(named)
    assert "payout_files" not in (await Tenant.get(id=w.tenant.id)).settings


async def test_given_a_statement_paid_meanwhile_then_the_file_leaves_its_item_out(db):
    """ann's statement recorded paid by hand after the batch was made: the file carries bob
    alone; ann's item fails naming why (in the file, the bank would pay her twice)."""
    from payments.statements.models import StatementStatus

    w = await _world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.SEPA_FILE,
                                           rep_ids=[w["ann"].id, w["bob"].id])  # fmt: skip
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await Statement.filter(user_id=w["ann"].id).update(status=StatementStatus.PAID.value)

    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)

    assert await _statuses(batch) == {"ann": ItemStatus.FAILED, "bob": ItemStatus.SUBMITTED}
    items = {i.user_id: i for i in await PayoutItem.filter(batch_id=batch.id)}
    assert items[w["ann"].id].failure_code == "statement_paid"
    content = bytes((await PayoutBatch.get(id=batch.id)).file_content or b"")
    ends = {key: f"<EndToEndId>{items[w[key].id].reference}</EndToEndId>".encode()
            for key in ("ann", "bob")}  # fmt: skip
    assert ends["bob"] in content
    assert ends["ann"] not in content  # (the PmtInfId PB...-1 may look like a reference)


async def test_given_a_reference_longer_than_any_item_when_returning_then_named_not_a_crash(
    db: str,
):
    """A reference no item can have (over 35 characters) is an unknown item naming
    ``reference`` (``--reference`` on the command line, one line, exit 2): it was an
    internal error (the ORM refused to compare it with the column) and a traceback."""
    from domain.kit.errors import NotFound
    from tests.api.cli_runner import podium

    w = await _world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    batch = await _run(w, PayoutMethod.SEPA_FILE)
    bob = await PayoutItem.get(batch_id=batch.id, user_id=w["bob"].id)
    too_long = bob.reference + "-" + "9" * 40

    with pytest.raises(NotFound) as refused:
        await service.return_item(viewer=w.viewer("ops"), batch_id=batch.id,
                                  reference=too_long, reason="AC04 account closed")  # fmt: skip
    assert refused.value.field == "reference"
    ran = await podium(db, "payouts", "return", "--tenant", "acme", "--batch", str(batch.id),
                       "--reference", too_long, "--reason", "AC04 account closed")  # fmt: skip
    ran.one_line_error("--reference")
    assert (await PayoutItem.get(id=bob.id)).status is ItemStatus.SUBMITTED


async def test_given_payout_details_changed_after_approval_then_left_out_of_the_file(db):
    w = await _world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.SEPA_FILE)  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["bob"].id,
                             method=PayoutMethod.SEPA_FILE, iban="GB33 BUKB 2020 1555 5555 55",
                             address=ADDRESS)  # fmt: skip
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)

    done = await PayoutBatch.get(id=batch.id)
    assert await _statuses(done) == {"ann": ItemStatus.SUBMITTED, "bob": ItemStatus.FAILED,
                                     "cat": ItemStatus.FAILED}  # fmt: skip
    bob = await PayoutItem.get(batch_id=batch.id, user_id=w["bob"].id)
    assert bob.failure_code == "details_changed"
    content = bytes(done.file_content or b"")
    assert b"GB33BUKB20201555555555" not in content
    assert f"<EndToEndId>{bob.reference}</EndToEndId>".encode() not in content
