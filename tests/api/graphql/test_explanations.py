"""The lines of `EarningsLines` explained in the viewer's language, from what is stored: money
rounded and formatted in the viewer's locale, attainment as a percentage, the plan's display
names, FX conversions; the stored lines keep the exact values, language-neutral."""

from __future__ import annotations

import json
import textwrap
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel.dates import format_date

from domain.crm.models import FxRate
from domain.earnings.models import EarningsLine
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_end_to_end import client_operation

PLAN = textwrap.dedent(
    """\
    id: named
    name: Named plan
    currency: EUR
    period: month
    measures:
      - id: bookings
        name: Won bookings
        filter: "type == 'deal' and state == 'won'"
    components:
      - id: commission
        name: Commission AE
        type: tiered
        measure: bookings
        tiers:
          - {from: 0, rate: 0.02}
          - {from: 0.5, rate: 0.05}
      - id: cloud_spiff
        name: Cloud SPIFF
        type: rate
        measure: bookings
        rate: 0.0375
    """
)


async def _world(locale: str) -> tuple[Tenant, User]:
    t = await h.tenant("named", currency="EUR", locale="en")
    rep = await h.person(t, "ana", locale=locale)
    period = h.this_period()
    version = await h.publish(t, PLAN, effective_from=period.start)
    await h.assign(t, version, rep, period.start)
    await h.quota(t, rep, period.id, "6000")
    await h.deal(t, rep, "d1", "2102.61", period.start)
    await h.deal(t, rep, "g1", "1000", period.start + timedelta(days=1), currency="GBP")
    await FxRate.create(
        tenant_id=t.id,
        date=period.start - timedelta(days=3),
        currency="GBP",
        quote_currency="EUR",
        rate=Decimal("1.17"),
    )
    await h.recompute(t, rep, period.id)
    return t, rep


async def _lines(api: Api, t: Tenant, rep: User) -> list[dict[str, Any]]:
    result = await api.as_(t, rep).gql(
        client_operation("EarningsLines"), {"period": h.this_period().id, "first": 10}
    )
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["me"]["earnings"]["lines"]["edges"]]


async def test_given_a_french_rep_when_lines_are_read_then_in_french_money_and_fx(api: Api):
    t, rep = await _world("fr-FR")
    rated_on = _fr_date(h.this_period().start - timedelta(days=3))

    nodes = await _lines(api, t, rep)

    deals = {n["transactionId"]: n["explanation"] for n in nodes if n["transactionId"]}
    summaries = {n["component"]: n["explanation"] for n in nodes if not n["transactionId"]}
    # 3.75% of 2,102.61 = 78.847875: stored exactly, read rounded to the cent, in French
    assert deals["d1"] == (
        "Cloud SPIFF : 3,75\xa0% de 2\u202f102,61\xa0€ de Won bookings de la transaction d1 "
        "= 78,85\xa0€"
    )
    assert deals["g1"] == (
        "Cloud SPIFF : 3,75\xa0% de 1\u202f170,00\xa0€ de Won bookings de la transaction g1 "
        f"= 43,88\xa0€; 1\u202f000,00\xa0£GB convertis au taux de 1,17 du {rated_on} : "
        "1\u202f170,00\xa0€"
    )
    # 3,272.61 of a 6,000 quota is 54.54...%: truncated to 54.5%, never rounded up
    assert summaries["commission"] == (
        "Commission AE : 73,63\xa0€; Won bookings : 3\u202f272,61\xa0€ sur un objectif de "
        "6\u202f000,00\xa0€, 54,5\xa0% atteint; transaction g1 : 1\u202f000,00\xa0£GB convertis "
        f"au taux de 1,17 du {rated_on} : 1\u202f170,00\xa0€; 2\xa0% de 3\u202f000,00\xa0€ au "
        "palier 1 (0\xa0%–50\xa0% de l’objectif); 5\xa0% de 272,61\xa0€ au palier 2 (50\xa0% de "
        "l’objectif et plus)"
    )
    assert summaries["cloud_spiff"].endswith("le total arrondi une seule fois : 122,72\xa0€")
    stored = await EarningsLine.filter(transaction_external_id="d1").get()
    assert stored.amount == Decimal("78.847875")  # the stored line keeps the exact value
    assert json.loads(stored.explanation) == [
        ["line", {"component": "Cloud SPIFF", "measure": "Won bookings", "rate": "0.0375"}]
    ]


async def test_given_a_hindi_rep_when_home_and_lines_are_read_then_hindi_and_names(api: Api):
    t, rep = await _world("hi-IN")

    nodes = await _lines(api, t, rep)
    home = await api.as_(t, rep).gql(client_operation("Home"), {})

    by_id = {n["transactionId"]: n["explanation"] for n in nodes}
    assert by_id["d1"] == "Cloud SPIFF: लेन-देन d1 के €2,102.61 Won bookings का 3.75% = €78.85"
    names = [c["name"] for c in home["data"]["me"]["earnings"]["components"]]
    assert names == ["Commission AE", "Cloud SPIFF"]
    assert [p["name"] for p in home["data"]["me"]["quotaProgress"]] == ["Won bookings"]


def _fr_date(day: date) -> str:
    return str(format_date(day, format="medium", locale="fr_FR"))


async def test_given_a_german_rep_in_error_when_earnings_are_read_then_the_reason_in_german(
    api: Api,
):
    """A result in error keeps its reason (a key and parameters) and reads in the viewer's
    language; it read in English whoever asked ('no quota for measure 'bookings' ...')."""
    t = await h.tenant("named", currency="EUR", locale="en")
    rep = await h.person(t, "ana", locale="de-DE")
    period = h.this_period()
    version = await h.publish(t, PLAN, effective_from=period.start)
    await h.assign(t, version, rep, period.start)
    await h.deal(t, rep, "d1", "1000", period.start)  # no quota: in error
    await h.recompute(t, rep, period.id)

    result = await api.as_(t, rep).gql(
        "query($p: String) { me { earnings(period: $p) { errors } } }", {"p": period.id}
    )

    assert "errors" not in result, result
    assert result["data"]["me"]["earnings"]["errors"] == [
        f"keine Quote für Won bookings in {period.id}"
    ]
