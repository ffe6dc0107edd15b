"""The demo tenant of `podium dev`: Helios Energy, a utility selling energy contracts, solar
systems and heat pumps through field reps and partner agents.

3 regions, 4 managers (a head of sales and three regional managers), 60 reps and partner
agents, an admin and a payout ops user; two plans (an agent plan with tiers that pays once an
installation or contract is `activated`, and a manager override on `team` bookings), quotas,
and three months of transactions ending with the current month, then every earnings result;
next quarter's targets (bookings, and heat pumps alone) allocated down to every rep; the
first month closed with its statements (approved and paid but for the north team's drafts, a
partner agent on a draw, a west rep's month below zero to carry into the next, a south rep's
deal cancelled after payment to claw back next month).
And a US pilot: three installer partners in Texas on a plan in dollars, outside the European
sales hierarchy, paid by ACH (a NACHA file from the company's US bank).

Every payout method has its payees: field reps by SEPA transfer (one in seven, employees,
through the ADP payroll), partner agents through Stripe Connect (each region's agent number
5, a part-time ambassador, in gift cards by e-mail), the US partners by ACH; the SAP ledger
takes anyone.

Everything goes through the real use cases (tenant, people, plan publishing and assignment,
the bulk CSV import, recompute), so the demo exercises the paths production data takes. The
data is deterministic: the same ``today`` and ``seed`` give the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from schwifty import IBAN

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET
from domain.crm.models import Transaction
from domain.crm.service import import_quotas, import_reps, import_transactions
from domain.earnings.close import record_late_events
from domain.earnings.service import close_period, recompute_rep_period
from domain.kit.periods import Period, period_containing
from domain.notifications.models import Notification, NotificationKind
from domain.org.models import Role, User
from domain.org.service import create_user
from domain.org.viewer import Viewer
from domain.plans.models import PlanAssignment
from domain.plans.service import assign_plan, publish_plan_version
from domain.targets import service as targets
from domain.targets.models import AllocationMethod, Target
from domain.tenants.models import Tenant
from domain.tenants.service import create_tenant
from payments.batches.files import set_file_origin
from payments.batches.service import create_batch
from payments.draws.service import set_draw, set_plan_terms
from payments.invoices.service import set_partner_profile, set_tax_rule
from payments.payouts.models import BankAccountType, PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    build_statements,
    mark_paid,
)

DEMO_SLUG = "demo"
TIME_ZONE = "Europe/Berlin"
REGIONS = ("north", "south", "west")
FIELD_REPS_PER_REGION = 14
PARTNER_AGENTS_PER_REGION = 6

AGENT_PLAN = """\
id: agent-commission
name: Field reps and partner agents
currency: EUR
period: month
# a sale pays once the installation (or the energy contract) is live
payable_when: "state == 'activated'"
measures:
  - id: bookings
    filter: "type in ('solar', 'heat_pump') and state != 'cancelled'"
  - id: energy_contracts
    filter: "type == 'energy_contract' and state != 'cancelled'"
    value: count
  # heat pumps against the heat-pump target's quotas (a target plan broken down by type)
  - id: heat_pumps
    filter: "type == 'heat_pump' and state != 'cancelled'"
    quota: "bookings[type=heat_pump]"
components:
  - id: commission
    type: tiered
    measure: bookings
    basis: attainment
    method: marginal
    tiers:
      - {from: 0, rate: 0.03}
      - {from: 0.8, rate: 0.05}
      - {from: 1.2, rate: 0.07}
  - id: energy_contract_fee
    type: rate
    measure: energy_contracts
    rate: 35
  - id: quota_club
    type: bonus
    measure: bookings
    steps:
      - {at: 1.0, amount: 500}
      - {at: 1.5, amount: 1200}
"""

# the US pilot's installer partners: dollars, a flat share of what they install, no quota
US_PLAN = """\
id: us-partner-commission
name: US installer partners
currency: USD
period: month
payable_when: "state == 'activated'"
measures:
  - id: installations
    filter: "type in ('solar', 'heat_pump') and state != 'cancelled'"
components:
  - id: commission
    type: rate
    measure: installations
    rate: 0.05
"""

MANAGER_PLAN = """\
id: manager-override
name: Manager override
currency: EUR
period: month
payable_when: "state == 'activated'"
cap: 15000
measures:
  - id: team_bookings
    filter: "type in ('solar', 'heat_pump') and state != 'cancelled'"
    scope: team
    # a manager's bookings quota is their team's: what the targets allocate to them
    quota: bookings
components:
  - id: override
    type: rate
    measure: team_bookings
    rate: 0.004
  - id: team_target
    type: bonus
    measure: team_bookings
    steps:
      - {at: 1.0, amount: 1500}
"""

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannes", "Ida", "Jonas",
    "Katrin", "Lukas", "Mia", "Nils", "Olga", "Paul", "Rosa", "Samir", "Tara", "Udo",
    "Vera", "Yusuf", "Zoe", "Emil", "Lea", "Milan", "Nora", "Oskar", "Pia", "Timo",
)  # fmt: skip
LAST_NAMES = (
    "Albers", "Brandt", "Cakir", "Dietz", "Engel", "Franke", "Graf", "Hahn", "Iversen",
    "Jansen", "Keller", "Lange", "Meyer", "Nowak", "Otto", "Peters", "Quast", "Roth",
    "Schulz", "Thiel", "Ulrich", "Vogel", "Winter", "Yilmaz", "Ziegler",
)  # fmt: skip


# whose tokens `podium dev` prints: (role, external id)
TOKEN_PEOPLE = (
    ("rep", "rep-north-01"),
    ("manager", "mgr-north"),  # a regional manager: a team of 20
    ("admin", "admin"),
    ("payout ops", "payout-ops"),
)


@dataclass
class DemoPeople:
    """External ids of the demo's people."""

    admin: str = "admin"
    payout_ops: str = "payout-ops"
    head_of_sales: str = "mgr-head"
    managers: list[str] = field(default_factory=list)
    reps: list[str] = field(default_factory=list)  # the European field reps and partner agents
    us_partners: list[str] = field(default_factory=list)  # the US pilot's, paid in dollars


@dataclass
class DemoSummary:
    tenant: Tenant
    people: DemoPeople
    periods: list[str]
    transactions: int
    results: int


def demo_periods(today: date) -> list[Period]:
    """The current month and the two before it."""
    current = period_containing(today, "month")
    return [current.previous().previous(), current.previous(), current]


def _today() -> date:
    return datetime.now(ZoneInfo(TIME_ZONE)).date()


async def seed_demo(
    *,
    today: date | None = None,
    seed: int = 2026,
    payout_details_secret: bytes = DEVELOPMENT_PAYOUT_DETAILS_SECRET,
) -> DemoSummary:
    """Create the demo tenant. Run it inside one transaction: all of it or nothing.
    ``payout_details_secret`` seals the reps' payout details (the service's
    PODIUM_PAYOUT_DETAILS_SECRET, or they do not open)."""
    today = today or _today()
    periods = demo_periods(today)
    start = periods[0].start
    rng = random.Random(seed)

    tenant = await create_tenant(
        slug=DEMO_SLUG, name="Helios Energy", currency="EUR", locale="en", time_zone=TIME_ZONE
    )
    system = Viewer.system(tenant.id, label="demo-seed")
    people = DemoPeople()

    await create_user(
        viewer=system,
        external_id=people.admin,
        display_name="Maren Vogt",
        role=Role.ADMIN,
        email="maren.vogt@helios.example",
    )
    await create_user(
        viewer=system,
        external_id=people.payout_ops,
        display_name="Jonas Becker",
        role=Role.PAYOUT_OPS,
        email="jonas.becker@helios.example",
    )
    head = await create_user(
        viewer=system,
        external_id=people.head_of_sales,
        display_name="Sabine Krüger",
        role=Role.MANAGER,
        email="sabine.krueger@helios.example",
        hire_date=date(2019, 4, 1),
    )
    people.managers.append(head.external_id)
    manager_names = {"north": "Henrik Olsen", "south": "Lucia Moretti", "west": "Daan de Vries"}
    for region in REGIONS:
        manager = await create_user(
            viewer=system,
            external_id=f"mgr-{region}",
            display_name=manager_names[region],
            role=Role.MANAGER,
            email=f"mgr-{region}@helios.example",
            manager_id=head.id,
            hire_date=date(2020, 1, 1),
        )
        people.managers.append(manager.external_id)

    # reps and partner agents: through the bulk import, managers already in the tenant
    names = _names(rng, len(REGIONS) * (FIELD_REPS_PER_REGION + PARTNER_AGENTS_PER_REGION))
    rep_lines = ["id,name,manager_id,hire_date,end_date,email,region,channel\n"]
    channels: dict[str, str] = {}
    regions: dict[str, str] = {}
    hired: dict[str, date] = {}
    for region in REGIONS:
        teams = (("field", FIELD_REPS_PER_REGION), ("partner", PARTNER_AGENTS_PER_REGION))
        for channel, size in teams:
            for number in range(1, size + 1):
                prefix = "rep" if channel == "field" else "agent"
                external_id = f"{prefix}-{region}-{number:02d}"
                hire = date(2021 + rng.randrange(4), rng.randrange(1, 13), 1)
                if number == size:  # one newcomer per team, hired mid-way: prorated quota
                    hire = periods[1].start + timedelta(days=14)
                rep_lines.append(
                    f"{external_id},{names.pop()},mgr-{region},{hire.isoformat()},,"
                    f"{external_id}@helios.example,{region},{channel}\n"
                )
                people.reps.append(external_id)
                channels[external_id] = channel
                regions[external_id] = region
                hired[external_id] = hire
    await import_reps(viewer=system, lines=rep_lines, file="demo/reps.csv")
    for external_id, name in US_PARTNERS:
        # no manager: the pilot is outside the European teams (whose team plans are in euros);
        # the admins approve their statements
        await create_user(
            viewer=system, external_id=external_id, display_name=name,
            email=f"{external_id}@helios.example", country="US", hire_date=date(2025, 3, 1),
        )  # fmt: skip
        people.us_partners.append(external_id)

    agent_version = await publish_plan_version(
        viewer=system, document=AGENT_PLAN, effective_from=start
    )
    manager_version = await publish_plan_version(
        viewer=system, document=MANAGER_PLAN, effective_from=start
    )
    us_version = await publish_plan_version(viewer=system, document=US_PLAN, effective_from=start)
    users = {u.external_id: u for u in await User.filter(tenant_id=tenant.id)}
    for external_id in people.reps:
        await assign_plan(
            viewer=system,
            plan_id=agent_version.plan_id,
            user_id=users[external_id].id,
            effective_from=max(start, hired[external_id]),
        )
    for external_id in people.managers:
        await assign_plan(
            viewer=system,
            plan_id=manager_version.plan_id,
            user_id=users[external_id].id,
            effective_from=start,
        )
    for external_id in people.us_partners:
        await assign_plan(viewer=system, plan_id=us_version.plan_id,
                          user_id=users[external_id].id, effective_from=start)  # fmt: skip

    # quotas: per rep and month; a manager's bookings quota (their team's) is the sum of their
    # reps' quotas
    quota_lines = ["rep_id,measure,period,value\n"]
    base = {
        rep: Decimal(rng.randrange(15, 23) if channels[rep] == "field" else rng.randrange(8, 13))
        * 5000
        for rep in people.reps
    }
    for period in periods:
        team_totals = {m: Decimal(0) for m in people.managers}
        for rep in people.reps:
            value = base[rep]
            quota_lines.append(f"{rep},bookings,{period.id},{value}\n")
            team_totals[f"mgr-{regions[rep]}"] += value
            team_totals[people.head_of_sales] += value
        for manager, total in team_totals.items():
            quota_lines.append(f"{manager},bookings,{period.id},{total}\n")
    await import_quotas(viewer=system, lines=quota_lines, file="demo/quotas.csv")

    tx_lines = ["id,rep_id,type,amount,currency,date,state,splits,product,kwp,channel\n"]
    count = 0
    quarter = period_containing(today, "quarter")
    heat_pumps_sold = Decimal(0)  # this quarter's, for next quarter's heat-pump target
    for period in periods:
        last_day = min(period.end, today)
        for rep in people.reps:
            first_day = max(period.start, hired[rep])
            if first_day > last_day:
                continue
            elapsed = (last_day - first_day).days + 1
            partner = channels[rep] == "partner"
            deals = rng.randrange(3, 8) if partner else rng.randrange(5, 12)
            deals = max(1, round(deals * elapsed / period.days))
            for _ in range(deals):
                count += 1
                day = first_day + timedelta(days=rng.randrange(elapsed))
                kind, amount, product, kwp = _product(rng)
                state = _state(rng, kind, (today - day).days)
                if kind == "heat_pump" and state != "cancelled" and quarter.contains(day):
                    heat_pumps_sold += amount
                splits = ""
                if partner and kind != "energy_contract" and rng.random() < 0.2:
                    # a partner agent's deal closed together with a field rep of the region
                    buddy = f"rep-{regions[rep]}-{rng.randrange(1, FIELD_REPS_PER_REGION):02d}"
                    splits = f"{rep}:0.6;{buddy}:0.4"
                tx_lines.append(
                    f"TX-{period.id}-{count:05d},{rep},{kind},{amount},EUR,{day.isoformat()},"
                    f"{state},{splits},{product},{kwp},{channels[rep]}\n"
                )
    # the US pilot's sales, drawn from a generator of their own: the European data stays the
    # same rows it was before the pilot
    us_lines = _us_transactions(random.Random(f"{seed}/us"), people.us_partners, periods, today)
    tx_lines.extend(us_lines)
    count += len(us_lines)
    await import_transactions(viewer=system, lines=tx_lines, file="demo/transactions.csv")

    results = 0
    for period in periods:
        for external_id in [*people.reps, *people.managers, *people.us_partners]:
            stored = await recompute_rep_period(
                viewer=system, user_id=users[external_id].id, period=period.id
            )
            results += len(stored)
    await _seed_targets(system, users, people, channels, quarter.next(), base, heat_pumps_sold)
    await _seed_boards(system, users)
    await _seed_gamification(system, people, users, periods, today)
    await _seed_contest(users, today)
    await _seed_payout_details(system, people, channels, users, payout_details_secret)
    await _onboarded(tenant.id, start)
    await _seed_statements(system, users, periods)  # a payout batch reads the details
    return DemoSummary(
        tenant=tenant,
        people=people,
        periods=[p.id for p in periods],
        transactions=count,
        results=results,
    )


async def _seed_boards(system: Viewer, users: dict[str, User]) -> None:
    """Three leaderboards of the current month: bookings across the tenant, the north
    team's attainment and the XP earned (Redis is filled from the stored results and the XP
    ledger when `podium dev` starts)."""
    from gamification.leaderboards.service import create_leaderboard

    await create_leaderboard(
        viewer=system, name="Bookings this month", metric="bookings", period_kind="month"
    )
    await create_leaderboard(
        viewer=system,
        name="North: quota attainment",
        metric="attainment:bookings",
        period_kind="month",
        team_id=users["mgr-north"].id,
    )
    await create_leaderboard(viewer=system, name="XP this month", metric="xp", period_kind="month")


async def _seed_gamification(
    system: Viewer,
    people: DemoPeople,
    users: dict[str, User],
    periods: list[Period],
    today: date,
) -> None:
    """Badges (one of them awarded when a contest is: its top 3), a level map and two
    streaks, then the after-recompute step of every seeded (rep, period) in order: the reps
    have their badges (with certificates and credentials), XP, levels and streaks as the
    workers would have given them."""
    from gamification.badges.service import after_recompute, create_badge
    from gamification.levels.rules import Level
    from gamification.levels.service import set_level_map
    from gamification.levels.streaks import add_holidays, create_streak

    for name, rule, xp, icon, description in [
        ("First deal", "deals >= 1", 50, "handshake", "A first won deal in a month."),
        ("Quota crusher", "attainment('bookings') >= 1", 200, "trophy", "100% of the quota."),
        ("Hat trick", "periods_in_a_row('bookings') >= 3", 500, "fire",
         "Three months in a row at or above 100% of quota."),
        ("Podium", "contest_place <= 3", 100, "medal", "A contest's top 3 (at its award)."),
    ]:  # fmt: skip
        await create_badge(
            viewer=system, name=name, rule=rule, xp=xp, icon=icon, description=description
        )
    await set_level_map(
        viewer=system,
        levels=[
            Level(1, "Rookie", 0),
            Level(2, "Closer", 150, "Team lunch"),
            Level(3, "Pro", 400, "Extra day off"),
            Level(4, "Star", 800, "Conference ticket"),
            Level(5, "Legend", 1500, "Weekend trip"),
        ],
    )
    await create_streak(viewer=system, name="On quota", rule="attainment >= 1", unit="period")
    await create_streak(viewer=system, name="Daily closer", rule="deals >= 1", unit="workday")
    year = today.year
    await add_holidays(viewer=system, days=[date(year, 1, 1), date(year, 5, 1), date(year, 12, 25)])
    for period in periods:
        pairs = [(users[rep].id, period.id) for rep in people.reps]
        await after_recompute(tenant_id=system.tenant_id, pairs=pairs)


async def _seed_contest(users: dict[str, User], today: date) -> None:
    """A live contest of the north team this month, launched by its manager: most deal
    amount wins, a money prize for the first two places (standings read from the seeded deals)."""
    from gamification.contests.models import ContestStatus
    from gamification.contests.service import launch_contest

    zone = ZoneInfo(TIME_ZONE)
    first = today.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    now = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    contest = await launch_contest(
        viewer=_as(users["mgr-north"]), name="North: deal sprint", metric="deal_amount",
        starts_at=datetime.combine(first, datetime.min.time(), tzinfo=zone),
        ends_at=datetime.combine(after, datetime.min.time(), tzinfo=zone),
        prizes=[
            {"rank": 1, "description": "Weekend in the mountains", "amount": "500.00"},
            {"rank": 2, "description": "Team dinner", "amount": "150.00"},
        ],
        now=now,
    )  # fmt: skip
    # the demo's story starts mid-contest: live now (the worker's cron would make it so within
    # 30 s anyway, telling the team it started)
    contest.status = ContestStatus.LIVE
    await contest.save(update_fields=["status"])


async def _seed_statements(system: Viewer, users: dict[str, User], periods: list[Period]) -> None:
    """The first month closed, its statements built (a partner agent on a recoverable draw
    of 800 EUR tops up to it); the field reps' approved and paid except the north team's,
    which wait as drafts for their manager (mgr-north) to approve; the other partner agents'
    and the US partners' approved, to pay: the Stripe ones in a batch waiting for a second
    pair of eyes, the gift card and ACH ones for a batch of their method. Two partner agents
    invoice as German businesses (19% VAT); a west rep's month ends below zero (-120.00,
    owed: closing the next month carries it there); then a south rep's deal of that month is
    cancelled after payment: closing the next month claws it back."""
    first = periods[0].id
    await close_period(viewer=system, period=first)
    agent = await PlanAssignment.get(user_id=users["agent-north-01"].id)
    # the partner plan's draw terms: half of later earnings goes to recover an advance, the
    # balance of an agent who leaves is forgiven; the agent's draw follows them
    await set_plan_terms(viewer=system, plan_id=agent.plan_id, recovery_share=Decimal("0.5"),
                         on_termination="forgive")  # fmt: skip
    await set_draw(viewer=system, assignment_id=agent.id, amount=Decimal(800), recoverable=True)
    # the partner agents invoice as businesses: German VAT on their self-billing invoices
    await set_tax_rule(viewer=system, country="DE", kind="vat", rate=Decimal(19))
    for key, name, vat in (
        ("agent-north-01", "Nordlicht Solar GmbH", "DE136695976"),
        ("agent-south-01", "Südwind Energietechnik GmbH", None),
    ):
        await set_partner_profile(
            viewer=system, rep_id=users[key].id, legal_name=name, address="Hamburg",
            country="DE", tax_id=vat,
        )  # fmt: skip
    await build_statements(viewer=system, period=first)
    # a west rep's month below zero: a damage beyond their earnings, approved with the others
    # and left owed by the pay run; the next month's statement carries it and recovers it
    owing = users["rep-west-02"]
    built = await Statement.get(tenant_id=system.tenant_id, user_id=owing.id, period=first)
    await add_adjustment(
        viewer=system, rep_id=owing.id, period=first, amount=-(Decimal(built.total) + 120),
        currency="EUR", reason="Company van damage (insurance excess)",
    )  # fmt: skip
    north = {u.id for k, u in users.items() if k.startswith(("rep-north-", "agent-north-"))}
    built = await Statement.filter(tenant_id=system.tenant_id, period=first).values_list(
        "user_id", flat=True
    )
    agents = {u.id for k, u in users.items() if k.startswith("agent-")}  # the US ones too
    # the field reps (paid by SEPA or the payroll) approved and paid; the other partner
    # agents approved: those paid through Stripe Connect in a payout batch that waits for a
    # second pair of eyes, the gift card ones and the US partners (ACH) for a batch of theirs
    await approve_statements(
        viewer=system, period=first,
        rep_ids=sorted({u for u in built if u not in north and u not in agents}),
    )  # fmt: skip
    await mark_paid(viewer=system, period=first)
    await approve_statements(
        viewer=system, period=first, rep_ids=sorted({u for u in built if u in agents - north})
    )
    await create_batch(viewer=_as(users["payout-ops"]), period=first, method=PayoutMethod.STRIPE)
    # the company's own account, which the SEPA files of its field reps' batches pay from
    await set_file_origin(
        viewer=system, method=PayoutMethod.SEPA_FILE,
        values={"name": "Helios Energy GmbH", "iban": "DE02 1203 0000 0000 2020 51",
                "bic": "BYLADEM1001", "address": {"street": "Sonnenallee", "building_number": "1",
                "postal_code": "20095", "town": "Hamburg", "country": "DE"}},
    )  # fmt: skip
    # the US company's bank, which the NACHA files of the US partners' batches pay from
    # (balanced files: each batch's credits offset by a debit of the company's account)
    await set_file_origin(
        viewer=system, method=PayoutMethod.NACHA_FILE,
        values={"odfi_routing": "121000248", "odfi_name": "Wells Fargo Bank",
                "immediate_origin": "1842215731", "company_name": "Helios Energy Inc",
                "company_id": "1842215731", "entry_description": "COMMISSION",
                "offset_account": "7788990011"},
    )  # fmt: skip
    # the ADP company whose payroll pays the employees among the field reps
    await set_file_origin(
        viewer=system, method=PayoutMethod.PAYROLL_FILE,
        values={"company_code": "HEL", "earnings_code": "C", "currency": "EUR"},
    )  # fmt: skip
    # the SAP ledger that a SAP journal batch posts to (accrued commissions -> payables)
    await set_file_origin(
        viewer=system, method=PayoutMethod.CSV_FILE,
        values={"company_code": "1000", "accrued_account": "210000",
                "payable_account": "219000"},
    )  # fmt: skip
    rep = users["rep-south-01"]
    deal = (
        await Transaction.filter(
            tenant_id=rep.tenant_id, rep_id=rep.id, date__gte=periods[0].start,
            date__lte=periods[0].end, state="activated", splits__isnull=True,
        )
        .order_by("-amount")
        .first()
    )  # fmt: skip
    if deal is not None:
        deal.state = "cancelled"
        deal.version += 1
        await deal.save(update_fields=["state", "version", "updated_at"])
        await record_late_events(viewer=system, pairs=[(rep.id, first)])


# the demo's field reps are paid by SEPA transfer, its partner agents through Stripe Connect
# or in gift cards, its US partners by ACH
DEMO_TOWNS = {
    "north": ("Hamburg", "20095"),
    "south": ("München", "80331"),
    "west": ("Köln", "50667"),
}


PAYROLL_EVERY = 7  # one field rep in seven is paid through the payroll, the others by SEPA
GIFT_CARD_AGENT = 5  # each region's partner agent number 5 takes gift cards, the others Stripe
# the US pilot's installer partners (Texas), each with their US bank account
US_PARTNERS = (
    ("agent-us-01", "Jordan Reyes"),
    ("agent-us-02", "Casey Whitfield"),
    ("agent-us-03", "Morgan Delgado"),
)
US_BANK_ACCOUNTS = {
    "agent-us-01": ("111000025", "4820019371", BankAccountType.CHECKING),
    "agent-us-02": ("021000021", "000123456789", BankAccountType.CHECKING),
    "agent-us-03": ("026009593", "93400217", BankAccountType.SAVINGS),
}


async def _seed_payout_details(
    system: Viewer,
    people: DemoPeople,
    channels: dict[str, str],
    users: dict[str, User],
    secret: bytes,
) -> None:
    for number, external_id in enumerate(people.reps, start=1):
        region = external_id.split("-")[1]
        if channels[external_id] == "field" and number % PAYROLL_EVERY == 0:
            # some field reps are employees paid with the payroll (ADP file number)
            await set_payout_details(
                viewer=system, secret=secret, rep_id=users[external_id].id,
                method=PayoutMethod.PAYROLL_FILE, payroll_employee_id=f"{number:06d}",
            )  # fmt: skip
        elif channels[external_id] == "field":
            town, postal_code = DEMO_TOWNS[region]
            await set_payout_details(
                viewer=system,
                secret=secret,
                rep_id=users[external_id].id,
                method=PayoutMethod.SEPA_FILE,
                iban=str(IBAN.generate("DE", bank_code="37040044", account_code=f"{number:010d}")),
                bic="COBADEFFXXX",
                address={"street": "Sonnenallee", "building_number": str(number),
                         "postal_code": postal_code, "town": town, "country": "DE"},
            )  # fmt: skip
        elif external_id.endswith(f"-{GIFT_CARD_AGENT:02d}"):
            await set_payout_details(
                viewer=system, secret=secret, rep_id=users[external_id].id,
                method=PayoutMethod.GIFT_CARD, gift_card_email=f"{external_id}@helios.example",
            )  # fmt: skip
        else:
            await set_payout_details(
                viewer=system,
                secret=secret,
                rep_id=users[external_id].id,
                method=PayoutMethod.STRIPE,
                stripe_account_id=f"acct_1Demo{number:011d}",
            )
    for external_id in people.us_partners:
        routing, account, kind = US_BANK_ACCOUNTS[external_id]
        await set_payout_details(
            viewer=system, secret=secret, rep_id=users[external_id].id,
            method=PayoutMethod.NACHA_FILE, routing_number=routing, account_number=account,
            account_type=kind,
        )  # fmt: skip


async def _onboarded(tenant_id: UUID, start: date) -> None:
    """The payees' "payout details set" messages belong to their onboarding, before the
    demo's months: dated then, read and not to push, so that no inbox opens on one (a new
    message of that kind is the sign of a hijacked account, as the README says)."""
    at = datetime.combine(start, time(9), tzinfo=ZoneInfo(TIME_ZONE))
    await Notification.filter(tenant_id=tenant_id, kind=NotificationKind.PAYOUT_DETAILS).update(
        created_at=at, read_at=at, pushed_at=at
    )


def _as(user: User) -> Viewer:
    return Viewer(tenant_id=user.tenant_id, user_id=user.id, role=user.role, request_id="demo")


async def _seed_targets(
    system: Viewer,
    users: dict[str, User],
    people: DemoPeople,
    channels: dict[str, str],
    quarter: Period,
    base: dict[str, Decimal],
    heat_pumps_sold: Decimal,
) -> None:
    """Next quarter's bookings target, 10% above this quarter's quotas: the head of sales
    splits it among the regions by this quarter's actuals, north splits equally, south by
    actuals, west by weights (field reps 2, partner agents 1); every allocation proposed and
    validated a level up, published as everyone's bookings quotas (a manager's is what the
    manager plan's team_bookings reads), accepted by some, disputed by one. And a heat-pump
    target (bookings broken down by type), 20% above this quarter's heat-pump sales, split by
    each level's heat-pump actuals and published as the quotas the agent plan's heat_pumps
    measure reads."""
    admin, head = _as(users[people.admin]), _as(users[people.head_of_sales])
    amount = (sum(base.values()) * 3 * Decimal("1.1") / 1000).quantize(Decimal(1)) * 1000
    plan = await targets.create_target_plan(
        viewer=system,
        key=f"bookings-{quarter.id}",
        period=quarter.id,
        measure="bookings",
        amount=amount,
        currency="EUR",
        owner_id=users[people.head_of_sales].id,
    )
    root = await targets.root_of(viewer=system, plan_id=plan.id)
    await targets.allocate(viewer=head, target_id=root.id, method=AllocationMethod.ACTUALS)
    await targets.propose(viewer=head, target_id=root.id)
    await targets.validate(viewer=admin, target_id=root.id)
    for region in REGIONS:
        manager = _as(users[f"mgr-{region}"])
        target = await Target.get(plan_id=plan.id, user_id=manager.user_id)
        if region == "west":
            team = [r for r in people.reps if users[r].manager_id == manager.user_id]
            lines = [
                targets.Allocation(
                    str(users[r].id), share=Decimal(2 if channels[r] == "field" else 1)
                )
                for r in team
            ]
            await targets.allocate(
                viewer=manager,
                target_id=target.id,
                method=AllocationMethod.WEIGHTS,
                allocations=lines,
            )
        else:
            method = AllocationMethod.EQUAL if region == "north" else AllocationMethod.ACTUALS
            await targets.allocate(viewer=manager, target_id=target.id, method=method)
        await targets.propose(viewer=manager, target_id=target.id)
        await targets.validate(viewer=head, target_id=target.id)
    await targets.publish(viewer=admin, plan_id=plan.id)
    for rep in ("rep-north-01", "rep-north-02", "rep-south-01", "agent-west-01"):
        mine = await Target.get(plan_id=plan.id, user_id=users[rep].id)
        await targets.respond(viewer=_as(users[rep]), target_id=mine.id, accept=True)
    disputed = await Target.get(plan_id=plan.id, user_id=users["rep-south-02"].id)
    await targets.respond(
        viewer=_as(users["rep-south-02"]),
        target_id=disputed.id,
        accept=False,
        comment="Two of my biggest accounts moved to the west region this quarter.",
    )

    heat_pumps = await targets.create_target_plan(
        viewer=system,
        key=f"heat-pumps-{quarter.id}",
        period=quarter.id,
        measure="bookings",
        amount=max(
            Decimal(1000), (heat_pumps_sold * Decimal("1.2") / 1000).quantize(Decimal(1)) * 1000
        ),
        currency="EUR",
        owner_id=users[people.head_of_sales].id,
        breakdown_field="type",
        breakdown_value="heat_pump",
    )
    for owner, approver in [(head, admin)] + [(_as(users[f"mgr-{r}"]), head) for r in REGIONS]:
        target = await Target.get(plan_id=heat_pumps.id, user_id=owner.user_id)
        await targets.allocate(viewer=owner, target_id=target.id, method=AllocationMethod.ACTUALS)
        await targets.propose(viewer=owner, target_id=target.id)
        await targets.validate(viewer=approver, target_id=target.id)
    await targets.publish(viewer=admin, plan_id=heat_pumps.id)


def _names(rng: random.Random, count: int) -> list[str]:
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return rng.sample(pairs, count)


def _product(rng: random.Random) -> tuple[str, Decimal, str, str]:
    """(type, amount, product, kWp) of one sale; amounts are exact decimals."""
    roll = rng.random()
    if roll < 0.4:
        kwp = Decimal(rng.randrange(48, 150)) / 10
        amount = (kwp * Decimal(rng.randrange(1450, 1900))).quantize(Decimal("0.01"))
        return "solar", amount, f"PV {kwp} kWp", str(kwp)
    if roll < 0.65:
        amount = Decimal(rng.randrange(1200, 3200)) * 10
        return "heat_pump", amount, "Air-source heat pump", ""
    amount = Decimal(rng.randrange(90000, 320000)) / 100
    return "energy_contract", amount, "Green power 24 months", ""


def _us_transactions(
    rng: random.Random, partners: list[str], periods: list[Period], today: date
) -> list[str]:
    """The US partners' sales (transactions.csv lines): solar systems and heat pumps in
    dollars, a few a month each, going live like the European ones."""
    lines = []
    for period in periods:
        last_day = min(period.end, today)
        elapsed = (last_day - period.start).days + 1
        for partner in partners:
            deals = max(1, round(rng.randrange(2, 6) * elapsed / period.days))
            for number in range(1, deals + 1):
                day = period.start + timedelta(days=rng.randrange(elapsed))
                if rng.random() < 0.7:
                    kind, kwp = "solar", Decimal(rng.randrange(60, 140)) / 10
                    amount = (kwp * Decimal(rng.randrange(2600, 3400))).quantize(Decimal("0.01"))
                    product = f"PV {kwp} kWp"
                else:
                    kind, kwp, product = "heat_pump", "", "Cold-climate heat pump"
                    amount = Decimal(rng.randrange(1400, 2600)) * 10
                state = _state(rng, kind, (today - day).days)
                lines.append(
                    f"US-{period.id}-{partner[-2:]}{number:02d},{partner},{kind},{amount},USD,"
                    f"{day.isoformat()},{state},,{product},{kwp},partner\n"
                )
    return lines


def _state(rng: random.Random, kind: str, age_days: int) -> str:
    """How far a sale got after ``age_days``: signed -> installed -> activated (contracts
    activate without an installation); a few are cancelled."""
    if rng.random() < 0.04:
        return "cancelled"
    jitter = rng.randrange(0, 15)
    if kind == "energy_contract":
        return "activated" if age_days >= 10 + jitter else "signed"
    if age_days >= 35 + jitter:
        return "activated"
    if age_days >= 18 + jitter:
        return "installed"
    return "signed"
