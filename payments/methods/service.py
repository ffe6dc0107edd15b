"""Use cases of payout providers: a tenant's sealed credentials and its verified webhook
events. Services never commit: the caller owns the transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from domain.audit.service import record
from domain.kit.clock import utc_now
from domain.kit.documents import unstorable_path
from domain.kit.errors import Forbidden, InvalidInput
from domain.org.models import Role
from domain.org.viewer import Viewer
from payments.methods.giftcards import GiftCardConfig, WebhookEvent
from payments.methods.models import Provider, ProviderConfig
from payments.methods.repository import ProviderRepository
from payments.methods.stripe_connect import StripeConfig
from payments.payouts.sealing import seal_json, unseal_json

_STRIPE_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{8,200}")
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{8,200}")


def _bound(tenant_id: UUID, provider: Provider) -> bytes:
    return tenant_id.bytes + provider.value.encode()


@dataclass(frozen=True, slots=True)
class StripeSetup:
    config: StripeConfig
    webhook_secrets: tuple[str, ...]


async def set_stripe_config(
    *,
    viewer: Viewer,
    secret: bytes,
    api_key: str,
    webhook_secrets: Sequence[str],
    api_base: str | None = None,
    payout_per_transfer: bool = False,
) -> ProviderConfig:
    """Admins and payout ops: the tenant's Stripe platform key and its webhook endpoints'
    signing secrets (the platform's, the Connect endpoint's), sealed; audited masked."""
    if viewer.role not in (Role.ADMIN, Role.PAYOUT_OPS):
        raise Forbidden("only admins and payout ops configure payout providers")
    if not _STRIPE_KEY.fullmatch(api_key):
        raise InvalidInput("a Stripe secret or restricted key (sk_live_..., rk_live_...)",
                           field="apiKey")  # fmt: skip
    if not webhook_secrets or not all(_WEBHOOK_SECRET.fullmatch(s) for s in webhook_secrets):
        raise InvalidInput("webhook signing secrets (whsec_...)", field="webhookSecrets")
    if api_base is not None and not re.fullmatch(r"https?://[^\s]{1,200}", api_base):
        raise InvalidInput("an http(s) URL", field="apiBase")
    data: dict[str, Any] = {
        "api_key": api_key,
        "webhook_secrets": list(webhook_secrets),
        "api_base": api_base,
        "payout_per_transfer": payout_per_transfer,
    }
    return await _store(
        viewer, secret, Provider.STRIPE, api_key, data, {"webhookSecrets": len(webhook_secrets)}
    )


async def _store(
    viewer: Viewer,
    secret: bytes,
    provider: Provider,
    api_key: str,
    data: dict[str, Any],
    shown: dict[str, Any],
) -> ProviderConfig:
    """A provider's settings sealed (bound to the tenant and provider), the key masked in
    the row and the audit; ``shown`` is what else the audit records in clear."""
    repo = ProviderRepository(viewer.tenant_id)
    current = await repo.config(provider, for_update=True)
    before = None if current is None else {"maskedKey": current.masked_key}
    if current is None:
        current = ProviderConfig(id=uuid4(), tenant_id=viewer.tenant_id, provider=provider)
    current.masked_key = f"{api_key[: min(8, len(api_key) // 4)]}•••• {api_key[-4:]}"
    current.sealed = seal_json(data, secret=secret, bound_to=_bound(viewer.tenant_id, provider))
    current.updated_at = utc_now()
    await repo.save(current)
    await record(viewer=viewer, action="payout_provider.set", entity_type="payout_provider",
                 entity_id=provider.value, before=before,
                 after={"maskedKey": current.masked_key, **shown})  # fmt: skip
    return current


async def remove_provider_config(*, viewer: Viewer, provider: Provider) -> bool:
    """Admins and payout ops: the tenant stops paying through ``provider`` (its batches' items
    then fail naming that); False when it had no configuration. Audited, the key masked."""
    if viewer.role not in (Role.ADMIN, Role.PAYOUT_OPS):
        raise Forbidden("only admins and payout ops configure payout providers")
    repo = ProviderRepository(viewer.tenant_id)
    current = await repo.config(provider, for_update=True)
    if current is None:
        return False
    await repo.delete(current)
    await record(viewer=viewer, action="payout_provider.removed", entity_type="payout_provider",
                 entity_id=provider.value, before={"maskedKey": current.masked_key},
                 after=None)  # fmt: skip
    return True


async def stripe_setup(*, tenant_id: UUID, secret: bytes) -> StripeSetup | None:
    """The tenant's Stripe client settings and webhook secrets; None when not configured."""
    config = await ProviderRepository(tenant_id).config(Provider.STRIPE)
    if config is None:
        return None
    data = unseal_json(config.sealed, secret=secret, bound_to=_bound(tenant_id, Provider.STRIPE))
    return StripeSetup(
        config=StripeConfig(
            api_key=data["api_key"],
            api_base=data.get("api_base"),
            payout_per_transfer=bool(data.get("payout_per_transfer")),
        ),
        webhook_secrets=tuple(data["webhook_secrets"]),
    )


_PRODUCT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FUNDING_SOURCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_GIFT_CARD_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_.:+/=-]{16,200}")


async def set_gift_card_config(
    *,
    viewer: Viewer,
    secret: bytes,
    api_key: str,
    api_base: str,
    products: Sequence[str],
    funding_source_id: str = "BALANCE",
    webhook_secrets: Sequence[str] | None = None,
) -> ProviderConfig:
    """Admins and payout ops: the tenant's gift card provider (a Tremendous-style API: its
    address, key, the catalogue products a payee may choose from and the funding source)
    and its webhook's private key(s) (two during a rotation; empty: its webhooks are
    refused; None: those stored are kept, so that a new API key does not silently stop the
    webhooks), sealed; audited with the key masked and the secrets counted."""
    if viewer.role not in (Role.ADMIN, Role.PAYOUT_OPS):
        raise Forbidden("only admins and payout ops configure payout providers")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{16,200}", api_key):
        raise InvalidInput("an API key: 16 to 200 letters, digits or _.:-", field="apiKey")
    if not re.fullmatch(r"https?://[^\s]{1,200}", api_base):
        raise InvalidInput("an http(s) URL such as https://www.tremendous.com/api/v2",
                           field="apiBase")  # fmt: skip
    if not products or not all(_PRODUCT.fullmatch(p) for p in products):
        raise InvalidInput("one product id or more, as the provider's catalogue names them",
                           field="products")  # fmt: skip
    if not _FUNDING_SOURCE.fullmatch(funding_source_id):
        raise InvalidInput("a funding source id such as BALANCE", field="fundingSourceId")
    if webhook_secrets is None:
        webhook_secrets = await gift_card_webhook_secrets(tenant_id=viewer.tenant_id,
                                                          secret=secret)  # fmt: skip
    if len(webhook_secrets) > 2 or not all(
        _GIFT_CARD_WEBHOOK_SECRET.fullmatch(s) for s in webhook_secrets
    ):
        raise InvalidInput("at most two webhook private keys, each 16 to 200 letters, digits "
                           "or _.:+/=-", field="webhookSecrets")  # fmt: skip
    data = {"api_key": api_key, "api_base": api_base, "products": list(products),
            "funding_source_id": funding_source_id,
            "webhook_secrets": list(webhook_secrets)}  # fmt: skip
    return await _store(viewer, secret, Provider.GIFT_CARDS, api_key, data,
                        {"apiBase": api_base, "products": list(products),
                         "webhookSecrets": len(webhook_secrets)})  # fmt: skip


async def gift_card_config(*, tenant_id: UUID, secret: bytes) -> GiftCardConfig | None:
    """The tenant's gift card client settings; None when not configured."""
    config = await ProviderRepository(tenant_id).config(Provider.GIFT_CARDS)
    if config is None:
        return None
    data = unseal_json(config.sealed, secret=secret,
                       bound_to=_bound(tenant_id, Provider.GIFT_CARDS))  # fmt: skip
    return GiftCardConfig(api_key=data["api_key"], api_base=data["api_base"],
                          products=tuple(data["products"]),
                          funding_source_id=data["funding_source_id"])  # fmt: skip


async def gift_card_webhook_secrets(*, tenant_id: UUID, secret: bytes) -> tuple[str, ...]:
    """The private keys the tenant's gift card webhooks are signed with; none when it has
    no provider, or set none."""
    config = await ProviderRepository(tenant_id).config(Provider.GIFT_CARDS)
    if config is None:
        return ()
    data = unseal_json(config.sealed, secret=secret,
                       bound_to=_bound(tenant_id, Provider.GIFT_CARDS))  # fmt: skip
    return tuple(data.get("webhook_secrets") or ())


async def record_gift_card_event(*, tenant_id: UUID, event: WebhookEvent) -> bool:
    """Stores a verified gift card event once, by its uuid (False: a redelivery)."""
    return await ProviderRepository(tenant_id).add_event(
        Provider.GIFT_CARDS, event.id, event.kind, event.document
    )


async def record_stripe_event(*, tenant_id: UUID, event: dict[str, Any]) -> bool:
    """Stores a verified Stripe event once (False: a redelivery). InvalidInput when it is
    not an event."""
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not re.fullmatch(r"evt_[A-Za-z0-9_]{1,250}", event_id):
        raise InvalidInput("an event id (evt_...)", field="id")
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z_.]{1,100}", kind):
        raise InvalidInput("an event type", field="type")
    if unstorable_path(event) is not None:  # PostgreSQL's jsonb refuses it
        raise InvalidInput("a NUL character or an unpaired surrogate in the event",
                           field="data")  # fmt: skip
    return await ProviderRepository(tenant_id).add_event(Provider.STRIPE, event_id, kind, event)
