"""Notification use cases: what a recompute crossed (pure rules), the inbox, devices, pushes.

Detection is stateless with respect to "before": the stored result is compared with the
durable sent records, so a job delivered twice (arq is at least once) or after a crash finds
the first delivery's records and sends nothing again. Services never commit: the caller owns
the transaction, and must create a notification and its sent records in the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from domain.earnings.models import EarningsResult, ResultStatus
from domain.engine.plan import Plan as EnginePlan
from domain.kit.clock import utc_now
from domain.kit.money import format_plain, round_money
from domain.notifications.errors import (
    InvalidDeviceToken,
    InvalidNotificationIds,
    InvalidThresholds,
)
from domain.notifications.models import Device, DevicePlatform, Notification, NotificationKind
from domain.notifications.push import PushMessage
from domain.notifications.repository import (
    Claimed,
    Created,
    InboxRepository,
    NewNotification,
    NotifierRepository,
)
from domain.notifications.summary import EarningsSummary, summarize
from domain.notifications.texts import render
from domain.org.viewer import Viewer
from domain.plans.service import compile_version
from domain.tenants.repository import get_tenant

DEFAULT_THRESHOLDS: tuple[Decimal, ...] = (Decimal(50), Decimal(80), Decimal(100), Decimal(120))
THRESHOLDS_SETTING = "notification_thresholds"  # tenant.settings: percentages, e.g. [50, 100]
MAX_TOKEN = 1024
MAX_IDS = 100


# --- the rules (pure) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Crossing:
    """Something to notify once: ``keys`` are the sent records that say it was (key, value)."""

    kind: NotificationKind
    params: dict[str, str]
    keys: tuple[tuple[str, Decimal | None], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TierPosition:
    """Where a rep stands in a tiered component: ``tier`` counts from 1."""

    plan: str
    component: str
    tier: int
    rate: Decimal


def thresholds_of(settings: Mapping[str, Any] | None) -> tuple[Decimal, ...]:
    """The tenant's attainment thresholds in percent (default 50, 80, 100, 120)."""
    raw = (settings or {}).get(THRESHOLDS_SETTING)
    if raw is None:
        return DEFAULT_THRESHOLDS
    if not isinstance(raw, list) or not raw:
        raise InvalidThresholds("a non-empty list of percentages", field=THRESHOLDS_SETTING)
    out: set[Decimal] = set()
    for item in raw:
        # JSON settings read 87.5 as a float: its shortest text is the number the admin wrote
        if isinstance(item, bool) or not isinstance(item, int | float | str | Decimal):
            raise InvalidThresholds(f"{item!r} is not a percentage", field=THRESHOLDS_SETTING)
        try:
            value = Decimal(str(item))
        except InvalidOperation:
            raise InvalidThresholds(
                f"{item!r} is not a percentage", field=THRESHOLDS_SETTING
            ) from None
        if not value.is_finite() or value <= 0:
            raise InvalidThresholds(f"{item!r} must be above 0", field=THRESHOLDS_SETTING)
        out.add(value)
    return tuple(sorted(out))


def attainment_key(measure: str, threshold: Decimal) -> str:
    """What names a measure's threshold (percent) once reached: its notification's sent
    record, and the XP the gamification grants for it."""
    return f"{measure}:{format_plain(threshold.normalize())}"


def attainment_crossings(
    *,
    period: str,
    attainments: Mapping[str, Decimal],
    thresholds: Sequence[Decimal],
    already: Set[str],
) -> list[Crossing]:
    """Every threshold reached (attainment 1 = 100%) and not notified yet, per quota measure:
    crossing 50 and 80 in one recompute notifies both."""
    out: list[Crossing] = []
    for measure, attainment in attainments.items():
        for threshold in sorted(thresholds):
            key = attainment_key(measure, threshold)
            if attainment * 100 >= threshold and key not in already:
                params = {
                    "period": period,
                    "measure": measure,
                    "threshold": format_plain(threshold.normalize()),
                    "attainment": format_plain(attainment),
                }
                out.append(Crossing(NotificationKind.ATTAINMENT, params, ((key, None),)))
    return out


def tier_key(position: TierPosition, tier: int) -> str:
    return f"{position.plan}:{position.component}:{tier}"


def tier_crossings(
    *, period: str, positions: Sequence[TierPosition], already: Set[str]
) -> list[Crossing]:
    """One notification per component that reached a higher tier (tier 1 is where everyone
    starts); jumping two tiers at once tells the highest and records both."""
    out: list[Crossing] = []
    for position in positions:
        new = [k for k in range(2, position.tier + 1) if tier_key(position, k) not in already]
        if not new or new[-1] != position.tier:
            continue
        params = {
            "period": period,
            "plan": position.plan,
            "component": position.component,
            "tier": str(position.tier),
            "rate": format_plain(position.rate),
        }
        keys = tuple((tier_key(position, k), None) for k in new)
        out.append(Crossing(NotificationKind.TIER, params, keys))
    return out


def payable_crossing(
    *, period: str, payable: Decimal, currency: str, last_notified: Decimal | None
) -> Crossing | None:
    """Payable earnings went up (to the cent) since the last time the rep was told."""
    now = round_money(payable, currency)
    before = round_money(last_notified or Decimal(0), currency)
    if now <= before:
        return None
    params = {
        "period": period,
        "currency": currency,
        "payable": format_plain(now),
        "released": format_plain(now - before),
    }
    return Crossing(NotificationKind.PAYABLE, params, ((f"{currency}:{format_plain(now)}", now),))


def attainments_of(results: Sequence[EarningsResult]) -> dict[str, Decimal]:
    """Quota attainment per measure (the first result naming a measure wins, as in the API)."""
    out: dict[str, Decimal] = {}
    for result in results:
        if result.status != ResultStatus.OK:
            continue
        for m in result.measures:
            measure, attainment = str(m["id"]), m.get("attainment")
            if attainment is not None and measure not in out:
                out[measure] = Decimal(str(attainment))
    return out


def tier_positions(
    results: Sequence[EarningsResult], plans: Mapping[UUID, EnginePlan]
) -> list[TierPosition]:
    """The tier each tiered component stands in: the last whose bound the measure reached (a
    value exactly on a bound belongs to the higher tier, PLAN_SPEC 2)."""
    out: list[TierPosition] = []
    for result in results:
        plan = plans.get(result.plan_version_id)
        if plan is None or result.status != ResultStatus.OK:
            continue
        measures = {str(m["id"]): m for m in result.measures}
        for component in plan.components:
            if component.type != "tiered" or component.measure not in measures:
                continue
            stored = measures[component.measure]
            if component.basis == "attainment":
                if stored.get("attainment") is None:
                    continue
                value = Decimal(str(stored["attainment"]))
            else:
                value = Decimal(str(stored["total"]))
            if value <= 0:
                continue
            reached = [i for i, t in enumerate(component.tiers) if t.start <= value]
            index = reached[-1] if reached else 0
            out.append(TierPosition(plan.id, component.id, index + 1, component.tiers[index].rate))
    return out


# --- the job's use case ---------------------------------------------------------------------


async def notify_crossings(*, tenant_id: UUID, user_id: UUID, period: str) -> list[Created]:
    """Creates the inbox notifications (with their sent records) for whatever the rep's stored
    result for ``period`` crossed and nobody told them yet. Run it in a transaction."""
    created = await notify_crossings_of(tenant_id=tenant_id, pairs=[(user_id, period)])
    return created.get((user_id, period), [])


async def notify_crossings_of(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[EarningsResult]] | None = None,
) -> dict[tuple[UUID, str], list[Created]]:
    """``notify_crossings`` for many (person, period)s: what they read in a few statements
    for all of them (what a batch recompute needs), the people locked in id order. Run it in
    a transaction. ``results``: their stored results, if the caller read them already."""
    return (await _notify(tenant_id, pairs, results, push=False)).created


@dataclass(frozen=True, slots=True)
class Notified:
    """What ``notify_and_claim_pushes`` created, and the pushes it claimed: one message per
    notification not pushed yet and device of its person."""

    created: dict[tuple[UUID, str], list[Created]]
    pushes: list[PushMessage]


async def notify_and_claim_pushes(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[EarningsResult]] | None = None,
) -> Notified:
    """``notify_crossings_of``, and every notification of these people not pushed yet (the
    new ones, and any other: a target's, say) claimed for push in the same statement (claimed
    even for people without a device: pushes switched on later must not replay old news).
    Run it in a transaction; send the pushes after it commits (a push is sent at most once)."""
    return await _notify(tenant_id, pairs, results, push=True)


# version id -> engine plan: a version's text never changes once published, and the compiled
# plan is shared with the recomputes (domain.plans.service.compile_version)
_plans: dict[UUID, EnginePlan] = {}
_MAX_PLANS = 1024


async def _plans_of(repo: NotifierRepository, version_ids: set[UUID]) -> dict[UUID, EnginePlan]:
    missing = [v for v in version_ids if v not in _plans]
    if missing:
        if len(_plans) + len(missing) > _MAX_PLANS:
            _plans.clear()
        for version in await repo.plan_versions(missing):
            _plans[version.id] = compile_version(version)
    return {v: _plans[v] for v in version_ids if v in _plans}


async def compiled_plans(*, tenant_id: UUID, version_ids: set[UUID]) -> dict[UUID, EnginePlan]:
    """The engine plans of these plan versions (compiled once a process: `_plans_of`)."""
    return await _plans_of(NotifierRepository(tenant_id), version_ids)


async def _notify(
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[EarningsResult]] | None,
    *,
    push: bool,
) -> Notified:
    repo = NotifierRepository(tenant_id)
    unique = list(dict.fromkeys(pairs))
    locales = await repo.lock_users([u for u, _ in unique])
    unique = [pair for pair in unique if pair[0] in locales]
    if not unique:
        return Notified({}, [])
    tenant = await get_tenant(tenant_id)
    if results is None or any(pair not in results for pair in unique):
        results = await repo.results_of(unique)
    told = await repo.told(unique)
    plans = await _plans_of(repo, {r.plan_version_id for p in unique for r in results[p]})
    thresholds = thresholds_of(tenant.settings)
    news: list[NewNotification] = []
    for user_id, period in unique:
        found, already = results[(user_id, period)], told[(user_id, period)]
        summary = summarize(
            found,
            tenant_id=tenant_id,
            user_id=user_id,
            period=period,
            default_currency=tenant.currency,
        )
        crossings = [
            *attainment_crossings(
                period=period,
                attainments=attainments_of(found),
                thresholds=thresholds,
                already=already.keys.get(NotificationKind.ATTAINMENT, set()),
            ),
            *tier_crossings(
                period=period,
                positions=tier_positions(found, plans),
                already=already.keys.get(NotificationKind.TIER, set()),
            ),
        ]
        payable = payable_crossing(
            period=period,
            payable=summary.payable,
            currency=summary.currency,
            last_notified=already.last_payable.get(summary.currency),
        )
        if payable is not None:
            crossings.append(payable)

        locale = locales[user_id] or tenant.locale or "en"
        for crossing in crossings:
            title, body = render(crossing.kind, crossing.params, locale)
            news.append(
                NewNotification(
                    user_id=user_id,
                    period=period,
                    kind=crossing.kind,
                    title=title,
                    body=body,
                    params=crossing.params,
                    locale=locale,
                    sent=crossing.keys,
                )
            )
    people = sorted({u for u, _ in unique})
    devices = await repo.devices_of(people) if push else {}
    created, others = await repo.add_notifications(news, claim_for=people if push else ())
    out: dict[tuple[UUID, str], list[Created]] = {pair: [] for pair in unique}
    for n in created:
        out[(n.user_id, n.period)].append(n)
    claimed = sorted(
        [
            *(
                Claimed(n.id, n.user_id, n.kind.value, n.period, n.title, n.body, n.created_at)
                for n in created
            ),
            *others,
        ],
        key=lambda c: (c.user_id, c.created_at),
    )
    pushes = [
        PushMessage(
            token=token,
            title=c.title,
            body=c.body,
            data={"notificationId": str(c.id), "kind": c.kind, "period": c.period},
        )
        for c in claimed
        for token in devices.get(c.user_id, ())
    ]
    return Notified(out, pushes)


async def forget_tokens(*, tenant_id: UUID, tokens: Sequence[str]) -> int:
    """Removes devices whose tokens the push service no longer knows."""
    return await NotifierRepository(tenant_id).forget_tokens(sorted(set(tokens)))


# --- the viewer's inbox and devices ---------------------------------------------------------


async def register_device(*, viewer: Viewer, token: str, platform: DevicePlatform) -> Device:
    token = token.strip()
    if not token:
        raise InvalidDeviceToken("a push token is required", field="token")
    # FCM and APNs tokens are printable ASCII: not spaces, control or other characters
    if len(token) > MAX_TOKEN or not (token.isascii() and token.isprintable()) or " " in token:
        raise InvalidDeviceToken("this is not a push token", field="token")
    return await InboxRepository(viewer).upsert_device(token=token, platform=platform, at=utc_now())


async def mark_read(*, viewer: Viewer, ids: Sequence[str]) -> int:
    """Marks the viewer's own unread notifications among ``ids`` read; returns how many.
    Another person's ids (or another tenant's) change nothing and are not told apart."""
    if len(ids) > MAX_IDS:
        raise InvalidNotificationIds(f"at most {MAX_IDS} ids at once", field="ids")
    parsed: list[UUID] = []
    for raw in ids:
        try:
            parsed.append(UUID(str(raw)))
        except ValueError:
            raise InvalidNotificationIds(f"{raw!r} is not a notification id", field="ids") from None
    return await InboxRepository(viewer).mark_read(parsed, utc_now())


async def inbox(*, viewer: Viewer, first: int, offset: int) -> tuple[list[Notification], bool]:
    return await InboxRepository(viewer).page(first=first, offset=offset)


async def stored_results(
    *, tenant_id: UUID, pairs: Sequence[tuple[UUID, str]]
) -> dict[tuple[UUID, str], list[EarningsResult]]:
    """The stored results of many (person, period)s, read in one statement: what the live
    update and the notification rules of a batch both read."""
    return await NotifierRepository(tenant_id).results_of(list(dict.fromkeys(pairs)))


async def earnings_summaries(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[EarningsResult]] | None = None,
) -> dict[tuple[UUID, str], EarningsSummary]:
    """``earnings_summary`` of many (person, period)s, read in one statement (none if the
    caller has ``results`` already)."""
    tenant = await get_tenant(tenant_id)
    unique = list(dict.fromkeys(pairs))
    if results is None or any(pair not in results for pair in unique):
        results = await stored_results(tenant_id=tenant_id, pairs=unique)
    return {
        (user_id, period): summarize(
            results[(user_id, period)],
            tenant_id=tenant_id,
            user_id=user_id,
            period=period,
            default_currency=tenant.currency,
        )
        for user_id, period in unique
    }


async def earnings_summary(*, tenant_id: UUID, user_id: UUID, period: str) -> EarningsSummary:
    """The rep's stored earnings for ``period``, as live updates carry them."""
    summaries = await earnings_summaries(tenant_id=tenant_id, pairs=[(user_id, period)])
    return summaries[(user_id, period)]


@dataclass(frozen=True, slots=True)
class Event:
    """Something to tell one person once: (person, period, kind, key) is its sent record."""

    user_id: UUID
    period: str
    kind: NotificationKind
    key: str
    params: dict[str, str]


async def notify_events(*, tenant_id: UUID, events: Sequence[Event]) -> Notified:
    """Inbox notifications for the events not told yet, claimed for push with any other
    notification of these people not pushed yet. Run it in a transaction; send the pushes
    after it commits."""
    repo = NotifierRepository(tenant_id)
    locales = await repo.lock_users(sorted({e.user_id for e in events}))
    tenant = await get_tenant(tenant_id)
    news: list[NewNotification] = []
    for event in events:
        if event.user_id not in locales:
            continue
        if await repo.was_sent(event.user_id, event.period, event.kind, event.key):
            continue
        locale = locales[event.user_id] or tenant.locale or "en"
        title, body = render(event.kind, event.params, locale)
        news.append(
            NewNotification(
                user_id=event.user_id, period=event.period, kind=event.kind, title=title,
                body=body, params=event.params, locale=locale, sent=((event.key, None),),
            )
        )  # fmt: skip
    people = sorted({n.user_id for n in news})
    devices = await repo.devices_of(people)
    created, others = await repo.add_notifications(news, claim_for=people)
    out: dict[tuple[UUID, str], list[Created]] = {}
    for n in created:
        out.setdefault((n.user_id, n.period), []).append(n)
    claimed = [
        *(
            Claimed(n.id, n.user_id, n.kind.value, n.period, n.title, n.body, n.created_at)
            for n in created
        ),
        *others,
    ]
    pushes = [
        PushMessage(
            token=token,
            title=c.title,
            body=c.body,
            data={"notificationId": str(c.id), "kind": c.kind, "period": c.period},
        )
        for c in sorted(claimed, key=lambda c: (c.user_id, c.created_at))
        for token in devices.get(c.user_id, ())
    ]
    return Notified(out, pushes)


async def claim_pushes(*, tenant_id: UUID, user_ids: Sequence[UUID]) -> list[PushMessage]:
    """Claim for push every notification of these people not pushed yet (what an API
    request put in their inbox): the messages for their devices, to send after the commit.
    A second claim finds nothing: each is pushed at most once."""
    repo = NotifierRepository(tenant_id)
    people = sorted(set(user_ids))
    if not people:
        return []
    devices = await repo.devices_of(people)
    _, claimed = await repo.add_notifications([], claim_for=people)
    return [
        PushMessage(
            token=token,
            title=c.title,
            body=c.body,
            data={"notificationId": str(c.id), "kind": c.kind, "period": c.period},
        )
        for c in sorted(claimed, key=lambda c: (c.user_id, c.created_at))
        for token in devices.get(c.user_id, ())
    ]
