"""Payout details over GraphQL with the client's own SetPayoutDetails: validated on entry (every
bad value a UserError naming its field, nothing stored), sealed at rest, shown masked, audited
with masked values only, the payee told in their language; only the payee or payout ops."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import print_ast

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET
from domain.audit.models import AuditEntry
from domain.notifications.models import Notification, NotificationKind
from domain.org.models import Role
from payments.payouts.models import BankAccountType, PayoutDetails, PayoutMethod
from payments.payouts.sealing import SealError, unseal
from payments.payouts.service import payout_account
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document

SET = print_ast(operation_document("SetPayoutDetails"))
READ = "query ($rep: ID) { payoutDetails(repId: $rep) { method maskedAccount } }"
ADDRESS = {
    "street": "Friedrichstraße",
    "buildingNumber": "123",
    "postalCode": "10117",
    "town": "Berlin",
    "country": "DE",
}
SEPA = {"method": "SEPA_FILE", "iban": "DE89 3704 0044 0532 0130 00", "address": ADDRESS}


async def _company() -> dict[str, Any]:
    t = await h.tenant("acme")
    return {
        "t": t,
        "ana": await h.person(t, "ana", locale="de"),
        "ben": await h.person(t, "ben"),
        "ops": await h.person(t, "ops", role=Role.PAYOUT_OPS),
        "admin": await h.person(t, "admin", role=Role.ADMIN),
    }


async def _set(api: Api, **input: Any) -> dict[str, Any]:
    result = await api.gql(SET, {"input": input})
    assert "errors" not in result, result
    out: dict[str, Any] = result["data"]["setPayoutDetails"]
    return out


async def test_given_a_rep_when_they_set_an_iban_then_it_is_sealed_masked_audited_and_told(
    api: Api,
):
    c = await _company()
    ana = api.as_(c["t"], c["ana"])

    out = await _set(ana, **SEPA, bic="COBADEFFXXX")

    assert out["__typename"] == "PayoutDetails"
    assert out["method"] == "SEPA_FILE"
    assert out["maskedAccount"] == "DE89 •••• 3000"
    row = await PayoutDetails.get(user_id=c["ana"].id)
    assert "DE89" not in row.sealed  # sealed, not merely encoded
    assert "3704" not in row.sealed
    account = await payout_account(
        tenant_id=c["t"].id, user_id=c["ana"].id, secret=DEVELOPMENT_PAYOUT_DETAILS_SECRET
    )
    assert account.iban == "DE89370400440532013000"
    assert account.bic == "COBADEFFXXX"
    assert account.address is not None
    assert account.address.town == "Berlin"
    assert account.address.street == "Friedrichstraße"
    with pytest.raises(SealError):  # another secret does not open it
        unseal(row.sealed, secret=b"x" * 32, tenant_id=c["t"].id, user_id=c["ana"].id)
    with pytest.raises(SealError):  # nor does another person's row
        unseal(row.sealed, secret=DEVELOPMENT_PAYOUT_DETAILS_SECRET, tenant_id=c["t"].id,
               user_id=c["ben"].id)  # fmt: skip
    [entry] = await AuditEntry.filter(action="payout_details.set")
    assert entry.entity_id == str(c["ana"].id)
    assert entry.before is None
    assert entry.after == {"method": "sepa_file", "maskedAccount": "DE89 •••• 3000"}
    [told] = await Notification.filter(user_id=c["ana"].id, kind=NotificationKind.PAYOUT_DETAILS)
    assert told.title == "Ihre Auszahlungsdaten wurden geändert"
    assert "Ihr Bankkonto (SEPA): DE89 •••• 3000" in told.body
    read = await ana.gql(READ)
    assert read["data"]["payoutDetails"] == {
        "method": "SEPA_FILE",
        "maskedAccount": "DE89 •••• 3000",
    }


async def test_given_details_when_changed_then_audited_before_and_after_and_same_again_is_a_no_op(
    api: Api,
):
    c = await _company()
    ben = api.as_(c["t"], c["ben"])
    await _set(ben, **SEPA)

    out = await _set(
        ben, method="NACHA_FILE", routingNumber="021000021", accountNumber="123456789",
        accountType="SAVINGS",
    )  # fmt: skip
    await _set(
        ben, method="NACHA_FILE", routingNumber="021000021", accountNumber="123456789",
        accountType="SAVINGS",
    )  # fmt: skip

    assert out["maskedAccount"] == "021000021 •••• 6789"
    entries = await AuditEntry.filter(action="payout_details.set").order_by("id")
    assert [e.after["method"] for e in entries if e.after] == ["sepa_file", "nacha_file"]
    assert entries[1].before == {"method": "sepa_file", "maskedAccount": "DE89 •••• 3000"}
    told = await Notification.filter(user_id=c["ben"].id, kind=NotificationKind.PAYOUT_DETAILS)
    assert len(told) == 2
    account = await payout_account(
        tenant_id=c["t"].id, user_id=c["ben"].id, secret=DEVELOPMENT_PAYOUT_DETAILS_SECRET
    )
    assert account.method is PayoutMethod.NACHA_FILE
    assert account.account_type is BankAccountType.SAVINGS
    assert account.iban is None


async def test_given_payout_ops_when_they_set_a_reps_details_then_the_rep_is_told(api: Api):
    c = await _company()
    ops = api.as_(c["t"], c["ops"])

    stripe = await _set(ops, repId=str(c["ben"].id), method="STRIPE",
                        stripeAccountId="acct_1Nv0FGQ9RKHgCVdK")  # fmt: skip
    gift = await _set(ops, repId=str(c["ana"].id), method="GIFT_CARD",
                      giftCardEmail="ana@example.com")  # fmt: skip
    payroll = await _set(ops, method="PAYROLL_FILE", payrollEmployeeId="42")

    assert stripe["maskedAccount"] == "acct_•••• CVdK"
    assert gift["maskedAccount"] == "a•••@example.com"
    assert payroll["maskedAccount"] == "File # •••• 42"
    [told] = await Notification.filter(user_id=c["ben"].id, kind=NotificationKind.PAYOUT_DETAILS)
    assert told.params["by"] == "payout_ops"
    assert "your Stripe account: acct_•••• CVdK" in told.body
    read = await ops.gql(READ, {"rep": str(c["ana"].id)})
    assert read["data"]["payoutDetails"]["method"] == "GIFT_CARD"
    unknown = await _set(ops, **SEPA, repId="not-an-id")
    assert (unknown["__typename"], unknown["field"]) == ("UserError", "repId")


async def test_given_a_rep_or_an_admin_when_setting_someone_elses_details_then_forbidden(
    api: Api,
):
    c = await _company()
    for who in ("ana", "admin"):
        result = await api.as_(c["t"], c[who]).gql(
            SET, {"input": {**SEPA, "repId": str(c["ben"].id)}}
        )
        assert h.codes(result) == ["FORBIDDEN"]
    other = await h.tenant("globex")
    stranger = await h.person(other, "ops2", role=Role.PAYOUT_OPS)
    result = await api.as_(other, stranger).gql(SET, {"input": {**SEPA, "repId": str(c["ben"].id)}})
    assert result["data"]["setPayoutDetails"]["field"] == "repId"  # not found, not revealed
    reading = await api.as_(c["t"], c["ana"]).gql(READ, {"rep": str(c["ben"].id)})
    assert h.codes(reading) == ["FORBIDDEN"]
    assert await PayoutDetails.all().count() == 0
    assert await AuditEntry.filter(action="payout_details.set").count() == 0


BAD = [
    ({**SEPA, "iban": "DE89 3704 0044 0532 0130 01"}, "iban", "checksum"),
    ({**SEPA, "iban": "XX89 3704"}, "iban", "IBAN"),
    ({**SEPA, "iban": "BR15 0000 0000 0000 1093 2840 814P 2"}, "iban", "SEPA zone"),
    ({**SEPA, "iban": "DE89" + "0" * 100}, "iban", "too long"),
    ({**SEPA, "bic": "COBAXXFF"}, "bic", "BIC"),
    ({"method": "SEPA_FILE", "iban": SEPA["iban"]}, "address", "structured postal address"),
    ({**SEPA, "address": {**ADDRESS, "country": "XY"}}, "address.country", "ISO 3166"),
    ({**SEPA, "address": {**ADDRESS, "town": " "}}, "address.town", "required"),
    ({**SEPA, "address": {**ADDRESS, "street": "x" * 71}}, "address.street", "70"),
    ({**SEPA, "address": {**ADDRESS, "postalCode": "10\n117"}}, "address.postalCode", "control"),
    ({**SEPA, "routingNumber": "021000021"}, "routingNumber", "SEPA_FILE"),
    ({"method": "NACHA_FILE", "routingNumber": "021000022", "accountNumber": "1234"},
     "routingNumber", "check digit"),
    ({"method": "NACHA_FILE", "routingNumber": "0210000", "accountNumber": "1234"},
     "routingNumber", "9 digits"),
    ({"method": "NACHA_FILE", "routingNumber": "991000027", "accountNumber": "1234"},
     "routingNumber", "starts with 99"),
    ({"method": "NACHA_FILE", "routingNumber": "021000021"}, "accountNumber", "required"),
    ({"method": "NACHA_FILE", "routingNumber": "021000021", "accountNumber": "12ab"},
     "accountNumber", "digits"),
    ({"method": "STRIPE", "stripeAccountId": "cus_123"}, "stripeAccountId", "acct_"),
    ({"method": "STRIPE", "stripeAccountId": "acct_1Nv0FGQ9RKHgCVdK", "accountType": "SAVINGS"},
     "accountType", "US bank"),
    ({"method": "GIFT_CARD", "giftCardEmail": "not-an-address"}, "giftCardEmail", "e-mail"),
    ({"method": "PAYROLL_FILE", "payrollEmployeeId": "1234567"}, "payrollEmployeeId", "6 digits"),
    ({"method": "CSV_FILE"}, "method", "SAP journal"),
]  # fmt: skip


@pytest.mark.parametrize(("input", "field", "words"), BAD)
async def test_given_bad_details_when_set_then_a_user_error_names_the_field_and_nothing_changes(
    api: Api, input: dict[str, Any], field: str, words: str
):
    c = await _company()
    ana = api.as_(c["t"], c["ana"])
    await _set(ana, method="GIFT_CARD", giftCardEmail="ana@example.com")
    before = await PayoutDetails.get(user_id=c["ana"].id)

    out = await _set(ana, **input)

    assert out["__typename"] == "UserError", out
    assert out["field"] == field
    assert words in out["message"]
    after = await PayoutDetails.get(user_id=c["ana"].id)
    assert (after.method, after.sealed, after.updated_at) == (
        before.method, before.sealed, before.updated_at,
    )  # fmt: skip
    assert await AuditEntry.filter(action="payout_details.set").count() == 1
    assert await Notification.filter(kind=NotificationKind.PAYOUT_DETAILS).count() == 1
