"""NACHA ACH credit files: PPD entries to people, CCD entries to businesses, one batch per
SEC code; 94-character records, blocking factor 10 (filled with 9-records), entry hashes and
control totals; optionally balanced (an offsetting debit to the originator's account per
batch, service class 200) for banks that want balanced files.

The same instructions, origin and times give the same bytes; trace numbers run in the order
of the instructions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from payments.methods.errors import MethodConfigError
from payments.methods.models import (
    Failed,
    Outcome,
    PayeeKind,
    PayoutFile,
    PayoutInstruction,
    Submitted,
    in_minor_units,
    plain_text,
    refusal,
    screened,
)
from payments.payouts.errors import PayoutDetailsError
from payments.payouts.models import BankAccountType, PayoutMethod
from payments.payouts.validation import parse_account_number, parse_routing_number

RECORD = 94
BLOCKING_FACTOR = 10
MAX_ENTRY_CENTS = 99_999_999_99  # ten digits of cents
_NOT_ACH = re.compile(r"[^A-Z0-9 .,/()&'-]")
_CREDIT_CODES = {BankAccountType.CHECKING: "22", BankAccountType.SAVINGS: "32"}
_DEBIT_CODES = {BankAccountType.CHECKING: "27", BankAccountType.SAVINGS: "37"}


def ach_text(text: str, limit: int) -> str:
    return plain_text(text.upper(), _NOT_ACH, limit)


@dataclass(frozen=True, slots=True)
class NachaOrigin:
    """The originator and its bank (ODFI)."""

    odfi_routing: str  # the originating bank's routing number (the file's destination)
    odfi_name: str
    immediate_origin: str  # up to 10 characters, usually "1" + the company's EIN
    company_name: str
    company_id: str  # up to 10 characters, usually "1" + EIN
    entry_description: str = "PAYOUT"  # what the payee's statement shows (10 characters)
    offset_account: str | None = None  # balanced files: the originator's account number
    offset_account_type: BankAccountType = BankAccountType.CHECKING

    @classmethod
    def of(cls, **values: str | BankAccountType | None) -> NachaOrigin:
        origin = cls(**values)  # type: ignore[arg-type]
        try:
            parse_routing_number(origin.odfi_routing, "origin.odfiRouting")
            if origin.offset_account is not None:
                parse_account_number(origin.offset_account, "origin.offsetAccount")
        except PayoutDetailsError as exc:
            raise MethodConfigError(exc.message, field=exc.field) from None
        for name, limit in (("immediate_origin", 10), ("company_id", 10)):
            value = getattr(origin, name)
            if not re.fullmatch(rf"[A-Z0-9 ]{{1,{limit}}}", value):
                raise MethodConfigError(f"1 to {limit} letters or digits", field=f"origin.{name}")
        for name in ("odfi_name", "company_name", "entry_description"):
            if not ach_text(getattr(origin, name), 23):
                raise MethodConfigError("is required", field=f"origin.{name}")
        return origin


def _record(*fields: str) -> str:
    line = "".join(fields)
    if len(line) != RECORD:  # a bug here, never in the input: fields are cut to width
        raise AssertionError(f"a NACHA record of {len(line)} characters")
    return line


def _alpha(text: str, width: int) -> str:
    return ach_text(text, width).ljust(width)


def _num(value: int | str, width: int) -> str:
    return str(value).rjust(width, "0")


@dataclass
class _Entry:
    code: str
    routing: str
    account: str
    cents: int
    individual_id: str
    name: str


def _refusal(i: PayoutInstruction) -> Failed | None:
    return refusal(
        i, method=PayoutMethod.NACHA_FILE, currencies={"USD"},
        not_this_method="the payee's payout method is not a US bank account",
        max_minor_units=MAX_ENTRY_CENTS, too_much="more than one ACH entry may carry",
        written_name=lambda name: ach_text(name, 22),
    )  # fmt: skip


def ach_file(
    *,
    instructions: Sequence[PayoutInstruction],
    origin: NachaOrigin,
    created_at: datetime,
    effective_date: date,
    file_id_modifier: str = "A",
) -> PayoutFile:
    """One NACHA file crediting every instruction that can be paid by ACH (the rest Failed
    with the reason, left out). No payable instruction: empty content."""
    if not re.fullmatch(r"[A-Z0-9]", file_id_modifier):
        raise MethodConfigError("one upper-case letter or digit", field="fileIdModifier")
    batches: dict[PayeeKind, list[tuple[PayoutInstruction, _Entry]]] = {}
    outcomes: dict[str, Outcome] = {}
    order: list[str | Failed] = []
    for i in screened(instructions, _refusal):
        if isinstance(i, Failed):
            order.append(i)
            continue
        order.append(i.reference)
        a = i.account
        entry = _Entry(
            code=_CREDIT_CODES[a.account_type or BankAccountType.CHECKING],
            routing=a.routing_number or "",
            account=a.account_number or "",
            cents=in_minor_units(i.amount, i.currency) or 0,
            individual_id=i.reference[-15:],
            name=i.payee_name,
        )
        batches.setdefault(i.payee_kind, []).append((i, entry))
    odfi8 = origin.odfi_routing[:8]
    lines = [
        _record(
            "1", "01", " " + origin.odfi_routing, origin.immediate_origin.rjust(10),
            created_at.strftime("%y%m%d"), created_at.strftime("%H%M"), file_id_modifier,
            "094", "10", "1", _alpha(origin.odfi_name, 23), _alpha(origin.company_name, 23),
            " " * 8,
        )
    ]  # fmt: skip
    trace = 0
    file_hash = file_debit = file_credit = file_count = 0
    for number, kind in enumerate(sorted(batches, key=lambda k: k.value), start=1):
        rows: list[tuple[PayoutInstruction | None, _Entry]] = list(batches[kind])
        credit = sum(e.cents for _, e in rows)
        if origin.offset_account is not None:
            offset = _Entry(
                code=_DEBIT_CODES[origin.offset_account_type],
                routing=origin.odfi_routing,
                account=origin.offset_account,
                cents=credit,
                individual_id="OFFSET",
                name=origin.company_name,
            )
            rows.append((None, offset))
        service_class = "200" if origin.offset_account is not None else "220"
        sec = "PPD" if kind is PayeeKind.PERSON else "CCD"
        lines.append(
            _record(
                "5", service_class, _alpha(origin.company_name, 16), " " * 20,
                origin.company_id.ljust(10), sec, _alpha(origin.entry_description, 10),
                " " * 6, effective_date.strftime("%y%m%d"), " " * 3, "1", odfi8,
                _num(number, 7),
            )
        )  # fmt: skip
        entry_hash = 0
        for instruction, e in rows:
            trace += 1
            trace_number = odfi8 + _num(trace, 7)
            entry_hash += int(e.routing[:8])
            lines.append(
                _record(
                    "6", e.code, e.routing[:8], e.routing[8], e.account.ljust(17),
                    _num(e.cents, 10), e.individual_id.ljust(15), _alpha(e.name, 22), "  ", "0",
                    trace_number,
                )
            )  # fmt: skip
            if instruction is not None:
                outcomes[instruction.reference] = Submitted(instruction.reference, trace_number)
        debit = credit if origin.offset_account is not None else 0
        lines.append(
            _record(
                "8", service_class, _num(len(rows), 6), _num(entry_hash % 10**10, 10),
                _num(debit, 12), _num(credit, 12), origin.company_id.ljust(10), " " * 19,
                " " * 6, odfi8, _num(number, 7),
            )
        )  # fmt: skip
        file_hash += entry_hash
        file_debit += debit
        file_credit += credit
        file_count += len(rows)
    records = len(lines) + 1
    blocks = -(-records // BLOCKING_FACTOR)
    lines.append(
        _record(
            "9", _num(len(batches), 6), _num(blocks, 6), _num(file_count, 8),
            _num(file_hash % 10**10, 10), _num(file_debit, 12), _num(file_credit, 12), " " * 39,
        )
    )  # fmt: skip
    lines.extend("9" * RECORD for _ in range(blocks * BLOCKING_FACTOR - records))
    content = "".join(line + "\r\n" for line in lines).encode("ascii") if batches else b""
    name = f"ACH-{created_at.strftime('%Y%m%d%H%M')}-{file_id_modifier}.ach"
    return PayoutFile(
        name,
        "text/plain",
        content,
        tuple(o if isinstance(o, Failed) else outcomes[o] for o in order),
    )
