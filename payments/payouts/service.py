"""Use cases of payout details. Services never commit: the caller owns the transaction, so
the details, their audit entry and the payee's notification commit together or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID, uuid4

from domain.audit.service import record
from domain.earnings.service import current_period
from domain.kit.clock import utc_now
from domain.kit.errors import Forbidden, NotFound
from domain.notifications.models import NotificationKind
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.texts import render
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from payments.payouts.errors import DetailsChanged, NoPayoutDetails
from payments.payouts.models import BankAccountType, PayoutDetails, PayoutMethod
from payments.payouts.repository import PayoutDetailsRepository
from payments.payouts.sealing import seal, unseal
from payments.payouts.validation import PayoutAccount, parse_address, validate_account


async def _payee(viewer: Viewer, rep_id: UUID | str | None) -> User:
    """The payee whose details change: the viewer, or anyone of the tenant for payout ops.
    Locked, so two changes of one person's details run one after the other."""
    users = UserRepository(viewer)
    if rep_id is None or (viewer.user_id is not None and str(rep_id) == str(viewer.user_id)):
        if viewer.user_id is None:
            raise NotFound("the system has no payout details: name the payee", field="repId")
        return await users.get(viewer.user_id, for_update=True)
    if viewer.role is not Role.PAYOUT_OPS and viewer.user_id is not None:
        raise Forbidden("only the payee or payout ops may change payout details", field="repId")
    try:
        return await users.get(rep_id, for_update=True)
    except NotFound:
        raise NotFound(f"no person {rep_id}", field="repId") from None


async def set_payout_details(
    *,
    viewer: Viewer,
    secret: bytes,
    method: PayoutMethod,
    rep_id: UUID | str | None = None,
    iban: str | None = None,
    bic: str | None = None,
    routing_number: str | None = None,
    account_number: str | None = None,
    account_type: BankAccountType | None = None,
    stripe_account_id: str | None = None,
    gift_card_email: str | None = None,
    payroll_employee_id: str | None = None,
    address: Mapping[str, str | None] | None = None,
) -> PayoutDetails:
    """Sets how a payee is paid. Bad input raises PayoutDetailsError naming the field before
    anything is written; a change is audited (masked values only) and tells the payee."""
    payee = await _payee(viewer, rep_id)
    account = validate_account(
        method=method,
        iban=iban,
        bic=bic,
        routing_number=routing_number,
        account_number=account_number,
        account_type=account_type,
        stripe_account_id=stripe_account_id,
        gift_card_email=gift_card_email,
        payroll_employee_id=payroll_employee_id,
        address=None
        if address is None
        else parse_address(
            street=address.get("street"),
            building_number=address.get("building_number"),
            postal_code=address.get("postal_code"),
            town=address.get("town"),
            country=address.get("country"),
        ),
    )
    repo = PayoutDetailsRepository(viewer.tenant_id)
    current = await repo.of(payee.id, for_update=True)
    ids = {"tenant_id": viewer.tenant_id, "user_id": payee.id}
    if current is not None and unseal(current.sealed, secret=secret, **ids) == account:
        return current  # nothing changed: nothing to audit or tell
    now = utc_now()
    before = None if current is None else _public(current.method, current.masked_account)
    if current is None:
        current = PayoutDetails(id=uuid4(), created_at=now, **ids)
    current.method = method
    current.masked_account = account.masked
    current.sealed = seal(account, secret=secret, **ids)
    current.updated_by = viewer.user_id
    current.updated_at = now
    await repo.save(current)
    await record(
        viewer=viewer,
        action="payout_details.set",
        entity_type="payout_details",
        entity_id=str(payee.id),
        before=before,
        after=_public(method, account.masked),
    )
    await _tell_payee(viewer, payee, current)
    return current


def _public(method: PayoutMethod, masked: str) -> dict[str, str]:
    return {"method": method.value, "maskedAccount": masked}


async def _tell_payee(viewer: Viewer, payee: User, details: PayoutDetails) -> None:
    """An inbox message to the payee, in their language: a change they did not make is the
    sign of a hijacked account, so they hear of every change, whoever made it."""
    period = (await current_period(viewer)).id
    params = {
        "period": period,
        "method": details.method.value,
        "account": details.masked_account,
        "by": "self" if viewer.user_id == payee.id else "payout_ops",
    }
    locale = payee.locale or viewer.locale
    title, body = render(NotificationKind.PAYOUT_DETAILS, params, locale)
    await NotifierRepository(viewer.tenant_id).add_notifications(
        [
            NewNotification(
                user_id=payee.id,
                period=period,
                kind=NotificationKind.PAYOUT_DETAILS,
                title=title,
                body=body,
                params=params,
                locale=locale,
                sent=(),
            )
        ]
    )


async def payout_details_of(*, viewer: Viewer, rep_id: UUID | str | None) -> PayoutDetails | None:
    """A payee's details as people see them (masked): the payee's own, anyone's for payout
    ops and admins."""
    users = UserRepository(viewer)
    if rep_id is None or str(rep_id) == str(viewer.user_id):
        user_id = viewer.user_id
    elif viewer.sees_whole_tenant:
        try:
            user_id = (await users.get(rep_id)).id
        except NotFound:
            return None
    else:
        raise Forbidden("only the payee, payout ops and admins see payout details", field="repId")
    if user_id is None:
        return None
    return await PayoutDetailsRepository(viewer.tenant_id).of(user_id)


async def payout_account(
    *, tenant_id: UUID, user_id: UUID, secret: bytes, approved_at: datetime | None = None
) -> PayoutAccount:
    """The clear account a payout method pays (system use: batches, files). With
    ``approved_at`` (when the batch paying it was approved), DetailsChanged if the details
    were set after that: the approver never saw that account."""
    details = await PayoutDetailsRepository(tenant_id).of(user_id)
    if details is None:
        raise NoPayoutDetails("the payee has no payout details", field="repId")
    if approved_at is not None and details.updated_at > approved_at:
        raise DetailsChanged(
            f"the payee's payout details changed at {details.updated_at:%Y-%m-%d %H:%M:%S} UTC, "
            "after the batch was approved: pay them in a new batch, approved again",
            field="repId",
        )
    return unseal(details.sealed, secret=secret, tenant_id=tenant_id, user_id=user_id)
