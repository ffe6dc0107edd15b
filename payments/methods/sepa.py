"""SEPA credit transfers: pain.001.001.09 (structured addresses, what banks want from November
2026) or pain.001.001.03 (for banks that still want it), written with `sepaxml` and checked
against the ISO 20022 XSD before anyone sees them.

The same instructions, message id, creation time and execution date give the same bytes:
sepaxml's random MsgId, PmtInfId and clock-read CreDtTm are replaced by the caller's values,
so a file generated again is byte for byte the one the bank may already have (and a bank
refuses a MsgId it has seen: a re-sent file cannot pay twice)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from sepaxml import SepaTransfer

from payments.methods.errors import MethodConfigError
from payments.methods.models import (
    Failed,
    Outcome,
    PayoutFile,
    PayoutInstruction,
    Submitted,
    in_minor_units,
    plain_text,
    refusal,
    screened,
)
from payments.payouts.errors import PayoutDetailsError
from payments.payouts.models import PayoutMethod
from payments.payouts.validation import PostalAddress, parse_bic, parse_iban

SepaVersion = Literal["pain.001.001.09", "pain.001.001.03"]
VERSIONS: tuple[SepaVersion, ...] = ("pain.001.001.09", "pain.001.001.03")
# the ISO 20022 schemas, copied from the sepaxml 2.7 wheel (payments/methods/xsd)
XSD_DIR = Path(__file__).parent / "xsd"
MAX_AMOUNT_CENTS = 99_999_999_999  # 999,999,999.99: the EPC's largest credit transfer

# the EPC's Latin character set: anything else is transliterated or becomes a space
_NOT_EPC = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def epc_text(text: str, limit: int) -> str:
    """``text`` in the EPC character set, at most ``limit`` characters."""
    return plain_text(text, _NOT_EPC, limit)


@dataclass(frozen=True, slots=True)
class SepaDebtor:
    """The payer: the tenant's account the transfers leave from."""

    name: str
    iban: str
    bic: str | None
    address: PostalAddress

    @classmethod
    def of(cls, *, name: str, iban: str, bic: str | None, address: PostalAddress) -> SepaDebtor:
        try:
            parsed_iban = parse_iban(iban, "debtor.iban").compact
            parsed_bic = parse_bic(bic, "debtor.bic").compact if bic else None
        except PayoutDetailsError as exc:
            raise MethodConfigError(exc.message, field=exc.field) from None
        if not epc_text(name, 70):
            raise MethodConfigError("the payer needs a name", field="debtor.name")
        if (part := unwritable_part(address)) is not None:
            raise MethodConfigError("has no Latin letters", field=f"debtor.address.{part}")
        return cls(name=name, iban=parsed_iban, bic=parsed_bic, address=address)


_ADDRESS_PARTS = (("street", "street", 70), ("building_number", "buildingNumber", 16),
                  ("postal_code", "postalCode", 16), ("town", "town", 35))  # fmt: skip


def unwritable_part(a: PostalAddress) -> str | None:
    """The first part of an address given but with nothing left in the EPC character set (no
    Latin letters or digits: "東京都", "Ωmega" is "mega" but "ﷺ" is nothing): the file would
    leave it out, and a town is mandatory. None when every part given can be written."""
    for attribute, name, limit in _ADDRESS_PARTS:
        value = getattr(a, attribute)
        if value and not epc_text(value, limit):
            return name
    return None


def _address(a: PostalAddress) -> dict[str, str]:
    out = {
        "street_name": epc_text(a.street, 70),
        "postcode": epc_text(a.postal_code, 16),
        "town": epc_text(a.town, 35),
        "country": a.country,
    }
    if a.building_number:
        out["building_number"] = epc_text(a.building_number, 16)
    return {k: v for k, v in out.items() if v}


class _Transfer(SepaTransfer):  # type: ignore[misc]
    """sepaxml's writer with the caller's ids and clock instead of random ones and now()."""

    def __init__(self, config: dict[str, Any], schema: str, msg_id: str, created: str) -> None:
        self._fixed = (msg_id, created)
        super().__init__(config, schema=schema, clean=False)

    def _create_header(self) -> None:
        super()._create_header()
        header = self._xml.find("CstmrCdtTrfInitn/GrpHdr")
        header.find("MsgId").text, header.find("CreDtTm").text = self._fixed

    def _finalize_batch(self) -> None:
        super()._finalize_batch()
        for n, node in enumerate(self._xml.iter("PmtInfId"), start=1):
            node.text = f"{self._fixed[0]}-{n}"


def _refusal(i: PayoutInstruction) -> Failed | None:
    refused = refusal(
        i, method=PayoutMethod.SEPA_FILE, currencies={"EUR"},
        not_this_method="the payee's payout method is not a SEPA transfer",
        max_minor_units=MAX_AMOUNT_CENTS, too_much="more than a SEPA transfer may carry",
        written_name=lambda name: epc_text(name, 70),
    )  # fmt: skip
    if refused is None and i.account.address is None:
        return Failed(i.reference, "the payee has no structured postal address", "address")
    if refused is None and (part := unwritable_part(i.account.address)) is not None:
        return Failed(i.reference, f"the payee's address.{part} has no Latin letters", "address")
    return refused


def credit_transfer_file(
    *,
    instructions: Sequence[PayoutInstruction],
    debtor: SepaDebtor,
    message_id: str,
    created_at: datetime,
    execution_date: date,
    version: SepaVersion = "pain.001.001.09",
) -> PayoutFile:
    """One pain.001 file paying every instruction that can be paid by SEPA transfer (the rest
    Failed with the reason, left out). No payable instruction: empty content."""
    if version not in VERSIONS:
        raise MethodConfigError(f"one of {', '.join(VERSIONS)}", field="version")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,30}", message_id):
        raise MethodConfigError("1 to 30 letters, digits or -", field="messageId")
    if created_at.tzinfo is None:
        raise MethodConfigError("a timezone-aware time", field="createdAt")
    config: dict[str, Any] = {
        "name": epc_text(debtor.name, 70),
        "IBAN": debtor.iban,
        "currency": "EUR",
        "batch": True,
        "address": _address(debtor.address),
    }
    if debtor.bic:
        config["BIC"] = debtor.bic
    writer = _Transfer(config, version, message_id, created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    outcomes: list[Outcome] = []
    for i in screened(instructions, _refusal):
        if isinstance(i, Failed):
            outcomes.append(i)
            continue
        payment: dict[str, Any] = {
            "name": epc_text(i.payee_name, 70),
            "IBAN": i.account.iban,
            "amount": in_minor_units(i.amount, i.currency),
            "execution_date": execution_date,
            "description": epc_text(i.description, 140) or i.reference,
            "endtoend_id": i.reference,
            "address": _address(i.account.address),
        }
        if i.account.bic:
            payment["BIC"] = i.account.bic
        writer.add_payment(payment)
        outcomes.append(Submitted(i.reference, provider_id=message_id))
    payable = any(isinstance(o, Submitted) for o in outcomes)
    content = writer.export(validate=False) if payable else b""
    if content:
        validate_sepa(content, version)
    return PayoutFile(f"{message_id}.xml", "application/xml", content, tuple(outcomes))


class InvalidSepaFile(ValueError):
    """A file that breaks the XSD, is not well-formed, or carries a DOCTYPE (entities are
    never declared in a payment file, and never expanded here)."""


# entities not expanded, no DTD loaded, nothing fetched from the network, no huge documents
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@cache
def schema_of(version: SepaVersion) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version}.xsd"), parser=_PARSER))


def validate_sepa(content: bytes, version: SepaVersion) -> None:
    """Raises InvalidSepaFile when the file breaks the XSD (libxml2 through lxml: about as
    fast as `xmllint --schema`, where xmlschema took 20 times as long; bench/payouts.py).
    The tests read every file back with xmlschema and xmllint, independently."""
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidSepaFile(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise InvalidSepaFile("a DOCTYPE: payment files declare no entities")
    schema = schema_of(version)
    if not schema.validate(root):
        raise InvalidSepaFile(f"breaks {version}: {schema.error_log.last_error}")
