"""The demo's payout sandbox: `podium dev` serves the local stand-ins of Stripe Connect and of
a Tremendous-style gift card API (``payments.methods.sandbox``) on 127.0.0.1 and points the
demo tenant at them, so that its Stripe and gift card batches run end to end on a laptop. No
money moves: they record what they were asked, in memory, until `podium dev` stops.

- Development only: with PODIUM_ENV=production nothing is started.
- A real provider always wins. A key in the environment (STRIPE_API_KEY, GIFT_CARDS_API_KEY)
  means no sandbox for that provider, and a sandbox configuration left on the demo tenant by
  an earlier run is removed (its batches then fail naming the missing provider until the key
  is stored with `podium payouts stripe|giftcards`). A tenant configuration the sandbox did
  not write (another key) is never replaced.
- The Stripe sandbox's connected accounts are created from the demo payees' payout details
  each time it starts (it keeps nothing between runs); its platform balance holds plenty of
  euros and dollars. It sends no webhooks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from domain.org.viewer import Viewer
from payments.methods.models import Provider
from payments.methods.sandbox import giftcards, stripe_connect
from payments.methods.service import (
    gift_card_config,
    remove_provider_config,
    set_gift_card_config,
    set_stripe_config,
    stripe_setup,
)
from payments.payouts.models import PayoutDetails, PayoutMethod
from payments.payouts.service import payout_account

# what marks a tenant's configuration as the sandbox's (Stripe's test-mode key shape)
STRIPE_KEY = "sk_test_PodiumSandbox0000000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_PodiumSandboxSendsNoWebhooks"
GIFT_CARD_KEY = "podium-sandbox-gift-cards-key"
GIFT_CARD_PRODUCT = "OKMHM2X2OHYV"  # one of the stand-in's catalogue products
ENVIRONMENT_KEYS = {Provider.STRIPE: "STRIPE_API_KEY", Provider.GIFT_CARDS: "GIFT_CARDS_API_KEY"}
SANDBOX_KEYS = {Provider.STRIPE: STRIPE_KEY, Provider.GIFT_CARDS: GIFT_CARD_KEY}
NAMES = {Provider.STRIPE: "Stripe", Provider.GIFT_CARDS: "gift cards"}
COMMANDS = {Provider.STRIPE: "stripe", Provider.GIFT_CARDS: "giftcards"}
PLATFORM_BALANCE = 10**12  # minor units of each currency the Stripe sandbox's platform holds


class SandboxError(RuntimeError):
    """The sandbox could not start; the message says why."""


def providers_to_sandbox(environ: Mapping[str, str], *, development: bool) -> list[Provider]:
    """The providers `podium dev` serves a sandbox of: in development, those with no key in
    the environment."""
    if not development:
        return []
    return [p for p, name in ENVIRONMENT_KEYS.items() if not environ.get(name)]


@dataclass
class Sandbox:
    """The running stand-ins (None: not sandboxed) and their addresses."""

    stripe: stripe_connect.StripeStandIn | None = None
    gift_cards: giftcards.GiftCardStandIn | None = None

    def urls(self) -> dict[Provider, str | None]:
        """Each provider's sandbox address (None: not sandboxed)."""
        return {
            Provider.STRIPE: self.stripe.url if self.stripe else None,
            Provider.GIFT_CARDS: self.gift_cards.url if self.gift_cards else None,
        }

    def add_accounts(self, accounts: Iterable[str]) -> None:
        """Connected accounts created in the Stripe sandbox (in its event loop's thread)."""
        if self.stripe is not None:
            self.stripe.accounts.update(accounts)


@asynccontextmanager
async def serving(providers: Iterable[Provider]) -> AsyncIterator[Sandbox]:
    """The stand-ins of ``providers`` served on 127.0.0.1 (free ports) in this event loop
    while the block runs."""
    wanted = set(providers)
    sandbox = Sandbox()
    async with AsyncExitStack() as stack:
        if Provider.STRIPE in wanted:
            sandbox.stripe = await stack.enter_async_context(
                stripe_connect.running(
                    stripe_connect.StripeStandIn(
                        api_key=STRIPE_KEY,
                        platform_balance={"eur": PLATFORM_BALANCE, "usd": PLATFORM_BALANCE},
                    )
                )
            )
        if Provider.GIFT_CARDS in wanted:
            sandbox.gift_cards = await stack.enter_async_context(
                giftcards.running(giftcards.GiftCardStandIn(api_key=GIFT_CARD_KEY))
            )
        yield sandbox


@dataclass
class Connection:
    """What connecting a tenant to the sandbox did: a line per provider for the banner, and the
    connected accounts its Stripe payees have (to create in the Stripe sandbox)."""

    notes: list[str] = field(default_factory=list)
    stripe_accounts: list[str] = field(default_factory=list)


async def _current(tenant_id: UUID, provider: Provider, secret: bytes) -> tuple[str, str | None]:
    """The tenant's key and address at ``provider`` (("", None): none configured)."""
    if provider is Provider.STRIPE:
        setup = await stripe_setup(tenant_id=tenant_id, secret=secret)
        return ("", None) if setup is None else (setup.config.api_key, setup.config.api_base)
    config = await gift_card_config(tenant_id=tenant_id, secret=secret)
    return ("", None) if config is None else (config.api_key, config.api_base)


async def connect_tenant(
    *, tenant_id: UUID, secret: bytes, urls: Mapping[Provider, str | None]
) -> Connection:
    """Point the tenant's Stripe and gift card configuration at the sandbox where one runs
    (``urls``: None for a provider that is not sandboxed) unless the tenant has a real one;
    remove a sandbox configuration where none runs. In the caller's transaction; each change
    audited."""
    system = Viewer.system(tenant_id, label="podium-dev-sandbox")
    done = Connection()
    for provider in (Provider.STRIPE, Provider.GIFT_CARDS):
        url, name = urls.get(provider), NAMES[provider]
        key, current_url = await _current(tenant_id, provider, secret)
        real = key not in ("", SANDBOX_KEYS[provider])
        if real:
            unused = f", the sandbox at {url} unused" if url else ""
            done.notes.append(f"{name}: the tenant's own key{unused}")
        elif url is None:
            if key:  # left by an earlier run: its address is gone
                await remove_provider_config(viewer=system, provider=provider)
            done.notes.append(
                f"{name}: {ENVIRONMENT_KEYS[provider]} is set, no sandbox (store the key for "
                f"the demo: podium payouts {COMMANDS[provider]} --tenant demo ...)"
            )
        else:
            if current_url != url:
                await _point_at(system, provider, url, secret)
            done.notes.append(f"{name}: SANDBOX at {url}")
    if urls.get(Provider.STRIPE) is not None:
        done.stripe_accounts = await _stripe_accounts(tenant_id, secret)
    return done


async def _point_at(system: Viewer, provider: Provider, url: str, secret: bytes) -> None:
    if provider is Provider.STRIPE:
        await set_stripe_config(viewer=system, secret=secret, api_key=STRIPE_KEY,
                                webhook_secrets=[STRIPE_WEBHOOK_SECRET], api_base=url)  # fmt: skip
    else:
        await set_gift_card_config(viewer=system, secret=secret, api_key=GIFT_CARD_KEY,
                                   api_base=url, products=[GIFT_CARD_PRODUCT])  # fmt: skip


async def _stripe_accounts(tenant_id: UUID, secret: bytes) -> list[str]:
    """The connected accounts of the tenant's payees paid through Stripe."""
    payees = await PayoutDetails.filter(
        tenant_id=tenant_id, method=PayoutMethod.STRIPE
    ).values_list("user_id", flat=True)
    accounts = []
    for user_id in payees:
        account = await payout_account(tenant_id=tenant_id, user_id=UUID(str(user_id)),
                                       secret=secret)  # fmt: skip
        if account.stripe_account_id:
            accounts.append(account.stripe_account_id)
    return sorted(accounts)


class SandboxThread:
    """The sandbox served from an event loop of its own, on a daemon thread: `podium dev`'s API
    and its start-up each run their own loops."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers = list(providers)
        self.sandbox = Sandbox()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 10.0) -> Sandbox:
        if not self.providers:
            return self.sandbox
        ready = threading.Event()
        failed: list[Exception] = []

        async def serve() -> None:
            self._stop = asyncio.Event()
            try:
                async with serving(self.providers) as sandbox:
                    self.sandbox = sandbox
                    ready.set()
                    await self._stop.wait()
            except Exception as exc:  # e.g. no port to bind: said by the caller
                failed.append(exc)
                ready.set()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="payout-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise SandboxError("the payout sandbox did not start")
        if failed:
            # its loop closes as the thread ends: wait for that, so that nothing is left to
            # stop (a stop racing the close called into a closed loop, seen in a CI run)
            self._thread.join(timeout)
            raise SandboxError(f"the payout sandbox did not start: {failed[0]}")
        return self.sandbox

    def add_accounts(self, accounts: list[str]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.sandbox.add_accounts, accounts)

    def stop(self) -> None:
        """Stop serving (idempotent; nothing to do when it never started or failed to)."""
        if self._thread is None or not self._thread.is_alive():
            return
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
