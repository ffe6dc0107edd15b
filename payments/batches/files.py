"""The file a file-method batch writes (SEPA pain.001, NACHA, ADP paydata, the SAP journal),
and where its
payer's details come from: the tenant's settings (``payout_files``), set by admins and
payout ops (`podium payouts origin`), validated when set and again when used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from domain.audit.service import record
from domain.kit.errors import Forbidden, InvalidInput
from domain.org.viewer import Viewer
from domain.tenants.models import Tenant
from payments.batches.models import PayoutBatch
from payments.methods.errors import MethodConfigError
from payments.methods.models import PayoutFile, PayoutInstruction
from payments.methods.nacha import NachaOrigin, ach_file
from payments.methods.payroll import PayrollCompany, paydata_file
from payments.methods.sap import SapLedger, journal_file
from payments.methods.sepa import SepaDebtor, credit_transfer_file
from payments.payouts.models import PayoutMethod
from payments.payouts.validation import PostalAddress

FILE_METHODS = (
    PayoutMethod.SEPA_FILE, PayoutMethod.NACHA_FILE, PayoutMethod.PAYROLL_FILE,
    PayoutMethod.CSV_FILE,
)  # fmt: skip
SETTINGS_KEY = "payout_files"


def _origin(method: PayoutMethod, values: dict[str, Any]) -> Any:
    """The payer of ``method``'s files from its stored (or given) values; MethodConfigError
    naming the field when they do not do."""
    try:
        if method is PayoutMethod.SEPA_FILE:
            a = values.get("address") or {}
            address = PostalAddress(
                str(a.get("street", "")), a.get("building_number"), str(a.get("postal_code", "")),
                str(a.get("town", "")), str(a.get("country", "")),
            )  # fmt: skip
            return SepaDebtor.of(name=str(values.get("name", "")), iban=str(values.get("iban", "")),
                                 bic=values.get("bic"), address=address)  # fmt: skip
        if method is PayoutMethod.NACHA_FILE:
            return NachaOrigin.of(**{k: str(v) for k, v in values.items()})
        if method is PayoutMethod.CSV_FILE:
            return SapLedger.of(**{k: str(v) for k, v in values.items()})
        return PayrollCompany.of(**{k: str(v) for k, v in values.items()})
    except TypeError as exc:
        raise MethodConfigError(f"unexpected or missing values: {exc}", field="origin") from None


async def set_file_origin(
    *, viewer: Viewer, method: PayoutMethod, values: dict[str, Any]
) -> dict[str, Any]:
    """Admins and payout ops: the payer of a file method (the tenant's debtor account, ACH
    originator, ADP company or SAP ledger). Validated before it is stored; audited."""
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops may do this", field="method")
    if method not in FILE_METHODS:
        raise InvalidInput(f"one of {', '.join(m.value for m in FILE_METHODS)}", field="method")
    _origin(method, values)
    tenant = await Tenant.filter(id=viewer.tenant_id).select_for_update().first()
    assert tenant is not None
    origins = dict(tenant.settings.get(SETTINGS_KEY) or {})
    before = origins.get(method.value)
    origins[method.value] = values
    tenant.settings = {**tenant.settings, SETTINGS_KEY: origins}
    await tenant.save(update_fields=["settings"])
    await record(viewer=viewer, action="payout_files.origin_set", entity_type="tenant",
                 entity_id=str(tenant.id), before=before, after=values)  # fmt: skip
    return values


async def origin_of(tenant_id: Any, method: PayoutMethod) -> Any:
    """The tenant's payer for ``method``'s files; MethodConfigError when none is set."""
    tenant = await Tenant.get(id=tenant_id)
    values = (tenant.settings.get(SETTINGS_KEY) or {}).get(method.value)
    if not values:
        raise MethodConfigError(
            f"the tenant has no payer for {method.value} files: `podium payouts origin`",
            field="method",
        )
    return _origin(method, values)


def batch_file(
    batch: PayoutBatch, origin: Any, instructions: Sequence[PayoutInstruction]
) -> PayoutFile:
    """The batch's file: the same bytes whenever written (its ids come from the batch's, its
    times from the approval; the payment date the next day)."""
    approved = batch.approved_at or batch.created_at
    assert isinstance(approved, datetime)
    ident = batch.id.hex[:16].upper()
    if batch.method is PayoutMethod.SEPA_FILE:
        return credit_transfer_file(
            instructions=instructions, debtor=origin, message_id=f"PB{ident}",
            created_at=approved, execution_date=approved.date() + timedelta(days=1),
        )  # fmt: skip
    if batch.method is PayoutMethod.NACHA_FILE:
        return ach_file(instructions=instructions, origin=origin, created_at=approved,
                        effective_date=approved.date() + timedelta(days=1))  # fmt: skip
    if batch.method is PayoutMethod.CSV_FILE:
        return journal_file(instructions=instructions, ledger=origin, batch_id=ident[:10],
                            posting_date=approved.date(), period=batch.period)  # fmt: skip
    return paydata_file(instructions=instructions, company=origin, batch_id=ident[:8])
