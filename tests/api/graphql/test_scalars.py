"""What the Decimal and Date scalars take: exact text only (a Decimal as a string or a
number written in the document, never a JSON number rounded to binary; a Date as
YYYY-MM-DD), refused in one GraphQL error naming the variable's path otherwise."""

from __future__ import annotations

import pytest

from domain.org.models import Role
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

WHAT_IF = """
query WhatIf($amount: Decimal!) {
  me { whatIf(amount: $amount, type: "deal") { after { amount } } }
}
"""
PUBLISH = """
mutation Publish($document: String!, $from: Date!) {
  publishPlan(document: $document, effectiveFrom: $from) {
    __typename ... on UserError { field message }
  }
}
"""


async def _rep(api: Api) -> Api:
    """A rep on a plan this period (what whatIf reads)."""
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    await h.assign(t, version, ana, period.start)
    await h.quota(t, ana, period.id, "40000")
    return api.as_(t, ana)


@pytest.mark.parametrize(
    "amount",
    [0.3, 99999999999999.99, 1e3, "1e3", "1_000", "\u0661\u0662", "\uff11\uff12", " 5 ", "5.",
     ".5", "NaN", "Infinity", "", "--1"],
)  # fmt: skip
async def test_given_a_decimal_that_is_not_exact_text_then_refused_naming_it(
    api: Api, amount: object
):
    rep = await _rep(api)

    answer = await rep.gql(WHAT_IF, {"amount": amount})

    assert answer.get("data") is None, answer
    (error,) = answer["errors"]
    assert "$amount" in error["message"], error
    assert "string" in error["message"] or "not a decimal number" in error["message"], error


async def test_given_a_decimal_written_in_the_document_then_taken_as_written(api: Api):
    rep = await _rep(api)

    literal = await rep.gql('{ me { whatIf(amount: 1000.10, type: "deal") { after { amount } } } }')
    as_string = await rep.gql(WHAT_IF, {"amount": "1000.10"})
    as_integer = await rep.gql(WHAT_IF, {"amount": 1000})

    assert "errors" not in literal, literal
    assert literal["data"] == as_string["data"]
    assert "errors" not in as_integer, as_integer
    refused = await rep.gql('{ me { whatIf(amount: 1e3, type: "deal") { after { amount } } } }')
    assert "not a decimal number" in refused["errors"][0]["message"], refused


@pytest.mark.parametrize("day", ["20261003", "2026-W40-1", "2026-10-03T00:00", "2026-02-30"])
async def test_given_a_date_not_as_yyyy_mm_dd_then_refused_naming_it(api: Api, day: str):
    t = await h.tenant("acme")
    admin = api.as_(t, await h.person(t, "ada", role=Role.ADMIN))

    answer = await admin.gql(PUBLISH, {"document": "id: x", "from": day})

    assert answer.get("data") is None, answer
    assert "$from" in answer["errors"][0]["message"], answer
    assert "is not a date (YYYY-MM-DD)" in answer["errors"][0]["message"], answer


async def test_given_several_operations_without_a_name_then_refused(api: Api):
    rep = await _rep(api)

    unnamed = await rep.gql("query A { me { id } } query B { me { displayName } }")
    named = await rep.gql("query A { me { id } } query B { me { displayName } }", None, "B")

    assert unnamed.get("data") is None, unnamed
    assert unnamed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "give operationName" in unnamed["errors"][0]["message"]
    assert set(named["data"]["me"]) == {"displayName"}


@pytest.mark.parametrize("last", [-1, 37])
async def test_given_earnings_history_beyond_its_bounds_then_bad_user_input(api: Api, last: int):
    rep = await _rep(api)

    answer = await rep.gql(
        "query H($last: Int) { me { earningsHistory(last: $last) { period } } }", {"last": last}
    )

    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", answer
    assert "last must be between 0 and 36" in answer["errors"][0]["message"]


async def test_given_a_what_if_amount_no_transaction_could_carry_then_refused_naming_it(
    api: Api,
):
    rep = await _rep(api)

    answer = await rep.gql(WHAT_IF, {"amount": "1" + "0" * 20})

    (error,) = answer["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "amount",
    ), answer
    assert "digits" in error["message"], error
