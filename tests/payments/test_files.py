"""The file methods: SEPA pain.001 (.09 and .03) checked against the XSD by xmlschema and by
xmllint, read back with defusedxml; NACHA checked by achkit's validator and by hand; the ADP
paydata CSV read back with the csv module. The same input gives the same bytes; an
instruction a method cannot pay is Failed with its reason and left out, the rest paid."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import achkit
import pytest
import xmlschema
from defusedxml import ElementTree as SafeET
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.methods.errors import MethodConfigError
from payments.methods.models import Failed, PayeeKind, Submitted
from payments.methods.nacha import NachaOrigin, ach_file
from payments.methods.payroll import HEADER, PayrollCompany, paydata_file
from payments.methods.sepa import VERSIONS, XSD_DIR, SepaDebtor, credit_transfer_file
from payments.payouts.models import BankAccountType
from payments.payouts.validation import PostalAddress
from tests.payments.factories import (
    ACH_ACCOUNT,
    BERLIN,
    PAYROLL_ACCOUNT,
    SEPA_ACCOUNT,
    STRIPE_ACCOUNT,
    instruction,
)
from tests.xmllint import xsd_accepts

CREATED = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
EXECUTION = date(2026, 12, 7)
DEBTOR = SepaDebtor.of(
    name="Helios Energy GmbH & Co. KG", iban="DE02 1203 0000 0000 2020 51", bic="BYLADEM1001",
    address=PostalAddress("Sonnenallee", "1", "20095", "Hamburg", "DE"),
)  # fmt: skip
EPC = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")


def _sepa(instructions, version="pain.001.001.09", message_id="PODIUM-B-0001"):
    return credit_transfer_file(
        instructions=instructions, debtor=DEBTOR, message_id=message_id, created_at=CREATED,
        execution_date=EXECUTION, version=version,
    )  # fmt: skip


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@pytest.mark.parametrize("version", VERSIONS)
def test_given_instructions_when_a_sepa_file_is_written_then_the_xsd_and_xmllint_accept_it(
    version: str, tmp_path: Path
):
    instructions = [instruction(n, amount=f"{n}.{n % 100:02d}") for n in range(1, 51)]
    instructions.append(instruction(99, replace(SEPA_ACCOUNT, bic=None), amount="0.01"))

    payout = _sepa(instructions, version)

    assert all(isinstance(o, Submitted) for o in payout.outcomes)
    xmlschema.XMLSchema(XSD_DIR / f"{version}.xsd").validate(payout.content.decode())
    path = tmp_path / "file.xml"
    path.write_bytes(payout.content)
    xsd_accepts(XSD_DIR / f"{version}.xsd", path)
    root = SafeET.fromstring(payout.content)
    values = {_local(e.tag): e.text for e in root.iter() if e.text}
    assert values["MsgId"] == "PODIUM-B-0001"
    assert values["NbOfTxs"] == "51"
    expected = sum(i.amount for i in instructions)
    assert Decimal(values["CtrlSum"]) == expected
    amounts = [Decimal(e.text or "") for e in root.iter() if _local(e.tag) == "InstdAmt"]
    assert sum(amounts) == expected
    ids = [e.text for e in root.iter() if _local(e.tag) in ("EndToEndId", "PmtInfId", "MsgId")]
    assert len(ids) == len(set(ids)) == 51 + 2
    limits = {"Nm": 70, "Ustrd": 140, "StrtNm": 70, "TwnNm": 35, "EndToEndId": 35, "MsgId": 35}
    for e in root.iter():
        if e.text and _local(e.tag) in limits:
            assert EPC.fullmatch(e.text), (e.tag, e.text)
            assert len(e.text) <= limits[_local(e.tag)]
    names = {e.text for e in root.iter() if _local(e.tag) == "Nm"}
    assert names == {"Helios Energy GmbH + Co. KG", "Jurgen Weiss-Ozturk"}
    remittances = {e.text for e in root.iter() if _local(e.tag) == "Ustrd"}
    assert "Provision November 2026 Nr. 1 danke" in remittances
    assert values["TwnNm"] in ("Berlin", "Hamburg")


def test_given_the_same_input_when_written_twice_then_the_same_bytes():
    instructions = [instruction(n) for n in range(1, 30)]

    first, again = _sepa(instructions), _sepa(list(instructions))

    assert first.content == again.content
    assert _sepa(instructions, message_id="PODIUM-B-0002").content != first.content


def test_given_instructions_sepa_cannot_pay_then_each_fails_with_its_reason_and_the_rest_pay():
    instructions = [
        instruction(1),
        instruction(2, currency="USD"),
        instruction(3, amount="10.005"),
        instruction(4, amount="0"),
        instruction(5, ACH_ACCOUNT),
        instruction(6, replace(SEPA_ACCOUNT, address=None)),
        instruction(7, name="李小龍"),
        instruction(8, reference="item-000001"),  # the first one's EndToEndId again
        instruction(9, reference="x" * 36),
        instruction(10, amount="1000000000.00"),
    ]

    payout = _sepa(instructions)

    assert [type(o).__name__ for o in payout.outcomes] == ["Submitted"] + ["Failed"] * 9
    codes = [o.code for o in payout.outcomes if isinstance(o, Failed)]
    assert codes == ["currency", "amount", "amount", "method", "address", "name", "duplicate",
                     "reference", "amount"]  # fmt: skip
    root = SafeET.fromstring(payout.content)
    assert [e.text for e in root.iter() if _local(e.tag) == "EndToEndId"] == ["item-000001"]
    unpayable = [i for i in instructions[1:] if i.reference != "item-000001"]
    assert _sepa(unpayable).content == b""  # nothing payable: no file


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (PostalAddress("東京都千代田区", None, "100-0001", "Ωmega", "JP"), "address.street"),
        (PostalAddress("Sonnenallee", "1", "20095", "ﷺ", "DE"), "address.town"),
        (PostalAddress("Sonnenallee", "一", "20095", "Hamburg", "DE"), "address.buildingNumber"),
    ],
)
def test_given_an_address_part_without_latin_letters_then_that_item_fails_naming_it(
    address, reason
):
    # the file would leave the part out (EPC rules want a town) and pay all the same
    payout = _sepa([instruction(1), instruction(2, replace(SEPA_ACCOUNT, address=address))])

    assert [type(o).__name__ for o in payout.outcomes] == ["Submitted", "Failed"]
    failed = payout.outcomes[1]
    assert isinstance(failed, Failed)
    assert failed.code == "address"
    assert reason in failed.reason
    root = SafeET.fromstring(payout.content)
    assert [e.text for e in root.iter() if _local(e.tag) == "EndToEndId"] == ["item-000001"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iban": "DE02 1203 0000 0000 2020 52"}, "debtor.iban"),
        ({"bic": "BYLAXXM1"}, "debtor.bic"),
        ({"name": "美"}, "debtor.name"),
        ({"address": PostalAddress("Sonnenallee", "1", "20095", "ﷺ", "DE")}, "debtor.address.town"),
    ],
)
def test_given_a_bad_debtor_then_a_config_error_names_the_field(change: dict, field: str):
    values = {"name": "Helios", "iban": DEBTOR.iban, "bic": DEBTOR.bic, "address": BERLIN}
    with pytest.raises(MethodConfigError) as caught:
        SepaDebtor.of(**{**values, **change})
    assert caught.value.field == field


def test_given_a_hostile_document_when_read_back_then_entities_are_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<d>&b;</d>"
    )
    from defusedxml import EntitiesForbidden

    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(bomb)
    from payments.methods.sepa import InvalidSepaFile, validate_sepa

    with pytest.raises(InvalidSepaFile, match="DOCTYPE"):
        validate_sepa(bomb, "pain.001.001.09")
    with pytest.raises(InvalidSepaFile, match="not well-formed"):
        validate_sepa(b"<d>", "pain.001.001.09")
    with pytest.raises(InvalidSepaFile, match="breaks pain.001.001.09"):
        validate_sepa(b"<Document/>", "pain.001.001.09")


# ---------------------------------------------------------------- NACHA

ORIGIN = NachaOrigin.of(
    odfi_routing="091000019", odfi_name="Wells Fargo", immediate_origin="1234567890",
    company_name="Helios Energy Inc", company_id="1234567890", entry_description="COMMISSION",
)  # fmt: skip
SAVINGS = replace(ACH_ACCOUNT, routing_number="011000015", account_type=BankAccountType.SAVINGS)


def _ach(instructions, origin=ORIGIN):
    return ach_file(
        instructions=instructions, origin=origin, created_at=CREATED, effective_date=EXECUTION
    )


def _hand_check(text: str) -> list[str]:
    """The NACHA rules checked here without achkit: record length, blocking, hash, totals."""
    rows = text.split("\r\n")
    assert rows[-1] == ""
    rows = rows[:-1]
    assert all(len(r) == 94 for r in rows)
    assert len(rows) % 10 == 0
    entries = [r for r in rows if r[0] == "6"]
    control = next(r for r in rows if r[0] == "9" and not set(r) == {"9"})
    assert int(control[21:31]) == sum(int(e[3:11]) for e in entries) % 10**10
    credits = sum(int(e[29:39]) for e in entries if e[1:3] in ("22", "32"))
    debits = sum(int(e[29:39]) for e in entries if e[1:3] in ("27", "37"))
    assert (int(control[31:43]), int(control[43:55])) == (debits, credits)
    assert int(control[7:13]) == len(rows) // 10
    return rows


def test_given_people_and_businesses_when_a_nacha_file_is_written_then_achkit_accepts_it():
    instructions = [
        instruction(n, ACH_ACCOUNT if n % 3 else SAVINGS, amount=f"{n * 7}.{n:02d}",
                    currency="USD", kind=PayeeKind.BUSINESS if n % 4 == 0 else PayeeKind.PERSON)
        for n in range(1, 24)
    ]  # fmt: skip

    payout = _ach(instructions)

    text = payout.content.decode("ascii")
    assert achkit.validate(text) == {"ok": True, "errors": []}
    rows = _hand_check(text)
    parsed = achkit.parse(text)
    assert [b["sec"] for b in parsed["batches"]] == ["CCD", "PPD"]
    assert {b["service_class"] for b in parsed["batches"]} == {220}
    entries = [e for b in parsed["batches"] for e in b["entries"]]
    assert len(entries) == 23
    assert sum(e["amount_cents"] for e in entries) == sum(int(i.amount * 100) for i in instructions)
    assert {e["txn_code"] for e in entries} == {22, 32}
    assert {e["name"] for e in entries} == {"JURGEN WEISS-OZTURK"}
    traces = [o.provider_id for o in payout.outcomes if isinstance(o, Submitted)]
    assert len(set(traces)) == 23
    assert {r[79:94] for r in rows if r[0] == "6"} == set(traces)
    assert _ach(list(instructions)).content == payout.content


def test_given_a_balanced_origin_then_each_batch_has_its_offsetting_debit():
    balanced = replace(ORIGIN, offset_account="99887766")
    instructions = [instruction(n, ACH_ACCOUNT, currency="USD") for n in range(1, 4)]

    text = _ach(instructions, balanced).content.decode("ascii")

    assert achkit.validate(text)["ok"]
    _hand_check(text)
    [batch] = achkit.parse(text)["batches"]
    assert batch["service_class"] == 200
    assert batch["control"]["total_debit"] == batch["control"]["total_credit"] == 30000


def test_given_instructions_nacha_cannot_pay_then_each_fails_and_the_rest_pay():
    instructions = [
        instruction(1, ACH_ACCOUNT, currency="USD"),
        instruction(2, ACH_ACCOUNT, currency="EUR"),
        instruction(3, SEPA_ACCOUNT, currency="USD"),
        instruction(4, ACH_ACCOUNT, currency="USD", amount="100000000.00"),
        instruction(5, ACH_ACCOUNT, currency="USD", amount="-1.00"),
    ]

    payout = _ach(instructions)

    assert [getattr(o, "code", "ok") for o in payout.outcomes] == [
        "ok", "currency", "method", "amount", "amount",
    ]  # fmt: skip
    assert achkit.validate(payout.content.decode())["ok"]
    assert _ach(instructions[1:]).content == b""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"odfi_routing": "091000018"}, "origin.odfiRouting"),
        ({"company_id": "12345678901"}, "origin.company_id"),
        ({"offset_account": "12x"}, "origin.offsetAccount"),
        ({"company_name": "   "}, "origin.company_name"),
    ],
)
def test_given_a_bad_origin_then_a_config_error_names_the_field(change: dict, field: str):
    values = {
        "odfi_routing": "091000019", "odfi_name": "Bank", "immediate_origin": "1234567890",
        "company_name": "Helios", "company_id": "1234567890",
    }  # fmt: skip
    with pytest.raises(MethodConfigError) as caught:
        NachaOrigin.of(**{**values, **change})
    assert caught.value.field == field


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 99_999_999_99), st.booleans(), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_given_any_amounts_and_mix_then_the_file_validates(items: list[tuple[int, bool, bool]]):
    instructions = [
        instruction(n, SAVINGS if savings else ACH_ACCOUNT, currency="USD",
                    amount=str(Decimal(cents).scaleb(-2)),
                    kind=PayeeKind.BUSINESS if business else PayeeKind.PERSON)
        for n, (cents, savings, business) in enumerate(items)
    ]  # fmt: skip

    text = _ach(instructions).content.decode("ascii")

    assert achkit.validate(text) == {"ok": True, "errors": []}
    _hand_check(text)


# ---------------------------------------------------------------- payroll (ADP paydata)

COMPANY = PayrollCompany.of(company_code="HX1", earnings_code="C", currency="EUR")


def test_given_payroll_payees_when_the_paydata_csv_is_written_then_one_row_per_employee():
    other = replace(PAYROLL_ACCOUNT, payroll_employee_id="000007")
    instructions = [
        instruction(1, PAYROLL_ACCOUNT, amount="100.10"),
        instruction(2, other, amount="5.5"),
        instruction(3, PAYROLL_ACCOUNT, amount="0.90"),
        instruction(4, STRIPE_ACCOUNT),
        instruction(5, other, currency="USD"),
    ]

    payout = paydata_file(instructions=instructions, company=COMPANY, batch_id="NOV26")

    rows = list(csv.reader(io.StringIO(payout.content.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == HEADER
    assert rows[1:] == [["HX1", "NOV26", "000007", "C", "5.50"],
                        ["HX1", "NOV26", "000042", "C", "101.00"]]  # fmt: skip
    assert payout.content.count(b"\r\n") == 3
    assert [getattr(o, "code", "ok") for o in payout.outcomes] == [
        "ok", "ok", "ok", "method", "currency",
    ]  # fmt: skip
    assert paydata_file(instructions=instructions[::-1][2:][::-1], company=COMPANY,
                        batch_id="NOV26").content == payout.content  # fmt: skip
    assert payout.filename == "PRHX1EPI-NOV26.csv"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"company_code": "hx1"}, "companyCode"),
        ({"earnings_code": "COMM"}, "earningsCode"),
        ({"currency": "euro"}, "currency"),
        ({"currency": "XXX"}, "currency"),
    ],
)
def test_given_a_bad_payroll_company_then_a_config_error_names_the_field(values, field):
    base = {"company_code": "HX1", "earnings_code": "C", "currency": "EUR"}
    with pytest.raises(MethodConfigError) as caught:
        PayrollCompany.of(**{**base, **values})
    assert caught.value.field == field
    with pytest.raises(MethodConfigError):
        paydata_file(instructions=[], company=COMPANY, batch_id="NOV 26")
