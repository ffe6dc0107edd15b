"""Hostile values at the GraphQL edge (the examples of issue 11, then generated ones): every
answer is a 4xx or a coded error (`BAD_USER_INPUT`, `UNAUTHENTICATED`, a `UserError`), never
a 5xx, a traceback or a slow answer. Against the real app (ASGI, lifespan, PostgreSQL, Redis).
"""

from __future__ import annotations

import base64
import json
import time
from datetime import date
from typing import Any

import httpx
import jwt
import pytest
from graphql import print_ast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.kit.periods import parse_period
from domain.notifications.models import Device
from domain.org.models import Role
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document

HOME = print_ast(operation_document("Home"))
LINES = print_ast(operation_document("EarningsLines"))
WHAT_IF = print_ast(operation_document("WhatIf"))
PUBLISH = print_ast(operation_document("PublishPlan"))
INBOX = print_ast(operation_document("Inbox"))
TEAM = print_ast(operation_document("Team"))
REGISTER = print_ast(operation_document("RegisterDevice"))
OPERATIONS = {
    "Home": HOME,
    "EarningsLines": LINES,
    "WhatIf": WHAT_IF,
    "PublishPlan": PUBLISH,
    "Inbox": INBOX,
    "Team": TEAM,
    "RegisterDevice": REGISTER,
}
TRACE_WORDS = ("Traceback", 'File "', "site-packages", "most recent call")


def deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def assert_clean(response: httpx.Response, seconds: float) -> None:
    assert response.status_code < 500, response.text[:500]
    assert not any(word in response.text for word in TRACE_WORDS), response.text[:500]
    assert "INTERNAL_SERVER_ERROR" not in response.text, response.text[:500]
    assert seconds < 1.0


async def post(api: Api, body: Any, **kwargs: Any) -> httpx.Response:
    """`body` as JSON (ASCII escapes, so lone surrogates travel), or bytes as they are."""
    started = time.perf_counter()
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"content-type": "application/json", **api.headers()}
    response = await api.http.post("/graphql", content=content, headers=headers, **kwargs)
    assert_clean(response, time.perf_counter() - started)
    return response


@pytest.fixture
async def admin(api: Api) -> Api:
    t = await h.tenant("acme")
    version = await h.publish(t, effective_from=date(2026, 1, 1))
    ada = await h.person(t, "ada", role=Role.ADMIN)
    await h.assign(t, version, ada, date(2026, 1, 1))
    return api.as_(t, ada)


PERIODS = ["0000", "0000-01", "0000-Q1", "2026-10\n", "2026-13", "١٢-01", "x" * 100_000, ""]


def refused_by_the_parser(period: str) -> bool:
    """Which periods domain.kit.periods refuses is its own business (and its tests'); the
    API's is that a refusal, whatever exception carries it, answers BAD_USER_INPUT."""
    try:
        parse_period(period)
    except Exception:  # noqa: BLE001 - any refusal, typed or not
        return True
    return False


@pytest.mark.parametrize("period", PERIODS)
async def test_given_a_bad_period_argument_then_bad_user_input(admin: Api, period: str):
    for query, variables in (
        (HOME, {"period": period}),
        (LINES, {"period": period}),
        (TEAM, {"period": period}),
    ):
        response = await post(admin, {"query": query, "variables": variables})
        expected = ["BAD_USER_INPUT"] if refused_by_the_parser(period) else []
        assert h.codes(response.json()) == expected, response.text[:300]


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(f"o:{2**64}".encode()).decode(),
        base64.urlsafe_b64encode(b"o:-1").decode(),
        base64.urlsafe_b64encode("o:١٢".encode()).decode(),
        "not base64 at all!",
        "x" * 100_000,
    ],
)
async def test_given_a_cursor_out_of_range_then_bad_user_input(admin: Api, cursor: str):
    response = await post(
        admin, {"query": LINES, "variables": {"period": "2026-10", "after": cursor}}
    )

    assert h.codes(response.json()) == ["BAD_USER_INPUT"]


async def test_given_an_effective_date_at_the_end_of_time_then_a_user_error(admin: Api):
    response = await post(
        admin,
        {"query": PUBLISH, "variables": {"document": h.AE_PLAN, "effectiveFrom": "9999-12-31"}},
    )

    # the Date scalar refuses it (dates Podium accepts end in 2199), naming the variable
    answer = response.json()
    assert answer.get("data") is None, answer
    assert "$effectiveFrom" in answer["errors"][0]["message"], answer
    assert "9999-12-31 is outside the dates" in answer["errors"][0]["message"], answer


async def test_given_a_100_000_character_plan_name_then_a_user_error_not_echoing_it(admin: Api):
    document = h.AE_PLAN.replace("Account Executive EMEA", "x" * 100_000)

    response = await post(
        admin,
        {"query": PUBLISH, "variables": {"document": document, "effectiveFrom": "2026-11-01"}},
    )

    result = response.json()["data"]["publishPlan"]
    assert result["__typename"] == "UserError", result
    assert len(response.content) < 2000


@pytest.mark.parametrize("name", ["Plan \x00 with NUL", "Plan \ud800"])
async def test_given_a_plan_name_with_nul_or_a_lone_surrogate_then_400_naming_the_variable(
    admin: Api, name: str
):
    document = h.AE_PLAN.replace("Account Executive EMEA", name)

    response = await post(
        admin,
        {"query": PUBLISH, "variables": {"document": document, "effectiveFrom": "2026-11-01"}},
    )

    assert response.status_code == 400
    assert "variables.document" in response.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"null", 400),
        (b"[]", 400),
        (b'"x"', 400),
        (b"42", 400),
        (b"\xff\xfe\x00{", 400),
        (b'{"query": "{ __typename }"', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"query": "{ __typename }", "variables": {"a": "\\u0000"}}', 400),
        (b'{"query": "{ __typename }", "variables": {"a": "\\ud800"}}', 400),
    ],
)
async def test_given_a_body_that_is_not_a_request_then_400(api: Api, body: bytes, status: int):
    response = await post(api, body)

    assert response.status_code == status
    assert h.codes(response.json()) == ["BAD_USER_INPUT"]


async def test_given_deeply_nested_variables_then_400_naming_the_variable(admin: Api):
    shallow = await post(
        admin, {"query": WHAT_IF, "variables": {"amount": "10", "fields": deep(50)}}
    )
    nested = json.dumps({"query": WHAT_IF, "variables": {"amount": "10", "fields": deep(900)}})
    very = b'{"query": "{ __typename }", "variables": {"fields": ' + b"[" * 100_000

    too_deep = await post(admin, nested.encode())
    far_too_deep = await post(admin, very + b"]" * 100_000 + b"}}")

    assert shallow.status_code == 200
    assert too_deep.status_code == 400
    assert "variables.fields" in too_deep.text
    assert far_too_deep.status_code == 400


async def test_given_a_body_over_the_limit_then_413_naming_it_before_reading_it_all(api: Api):
    sent = 0

    async def body():  # no Content-Length: the limit holds while streaming
        nonlocal sent
        for _ in range(200 * 16):  # 200 MiB, if it were all read
            sent += 1
            yield b" " * 65536

    declared = await post(api, b" " * (2 * 1024 * 1024))
    streamed = await post(api, body())

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"] == {
            "code": "PAYLOAD_TOO_LARGE",
            "maxBytes": 1024 * 1024,
        }
        assert "1048576 bytes" in response.json()["errors"][0]["message"]
    assert sent < 40  # about 1 MiB read, not 200


def forged(claims: dict[str, Any], secret: str = "s") -> str:
    return jwt.encode({"aud": "podium", "exp": 4_000_000_000, **claims}, secret, "HS256")


HOSTILE_CLAIMS = ["\x00", "acme\x00", "\ud800", "x" * 100_000, "🙂" * 300, "", " "]


@pytest.mark.parametrize("value", HOSTILE_CLAIMS)
async def test_given_a_hostile_sub_or_tenant_claim_then_unauthenticated(admin: Api, value: str):
    t = await h.tenant("globex")
    gus = await h.person(t, "gus")
    tokens = [
        forged({"sub": value, "tenant": "globex"}, t.jwt_secret),
        forged({"sub": str(gus.id), "tenant": value}, t.jwt_secret),
        forged({"sub": value, "tenant": value}),
    ]
    for token in tokens:
        response = await post(admin.with_token(token), {"query": HOME, "variables": {}})
        assert h.codes(response.json()) == ["UNAUTHENTICATED"], response.text[:300]


# ---------------------------------------------------------------- generated

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile_text = st.sampled_from(
    [
        "0000",
        "0000-01",
        "2026-10\n",
        "9999-12-31",
        "0001-01-01",
        "-1",
        "1e999999",
        "١٢",
        "x" * 5000,
        "\u2028",
        "'; DROP TABLE users; --",
        "{{7*7}}",
        "NaN",
        "Infinity",
        "2026-Q5",
    ]
)
VARIABLES = {
    "Home": ["period"],
    "EarningsLines": ["period", "first", "after"],
    "WhatIf": ["amount", "type", "fields"],
    "PublishPlan": ["document", "effectiveFrom"],
    "Inbox": ["first"],
    "Team": ["period"],
    "RegisterDevice": ["token", "platform"],
}
variables = st.sampled_from(sorted(VARIABLES)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.fixed_dictionaries(
            {},
            optional={v: hostile_text | json_values for v in VARIABLES[name]},
        ),
    )
)
documents = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "{",
                "}",
                "(",
                ")",
                "...",
                "on",
                "me",
                "id",
                "fragment",
                "F",
                "query",
                ":",
                "$a",
                "__schema",
                "__type",
                "types",
                "fields",
                "@skip",
                "[",
                "]",
                '"',
                "1e400",
                "\u0000",
                "#",
                "\n",
                "earnings",
                "period",
                "first",
            ]
        ),
        max_size=80,
    ).map(" ".join),
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "sub": json_values | hostile_text,
        "tenant": json_values | hostile_text | st.just("acme"),
        "exp": json_values,
        "aud": json_values | st.just("podium"),
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    case=variables,
    document=documents,
    token_claims=claims,
    use_operation=st.booleans(),
)
async def test_given_generated_requests_then_never_a_5xx_a_trace_or_a_slow_answer(
    admin: Api,
    case: tuple[str, dict[str, Any]],
    document: str,
    token_claims: dict[str, Any],
    use_operation: bool,
):
    name, values = case
    await post(admin, {"query": OPERATIONS[name], "variables": values})
    if use_operation:
        secret = "s"
        await post(
            admin.with_token(forged(token_claims, secret)),
            {"query": OPERATIONS[name], "variables": values},
        )
    await post(admin, {"query": document, "variables": values})


async def test_given_a_spread_of_an_unknown_fragment_then_a_validation_error_naming_it(
    admin: Api,
):
    # the depth limiter found nothing to measure in it and failed (a 500) before graphql's
    # own rule could name the fragment
    query = 'query Q { me { earnings(period: "2026-01") { total { ...MoneyParts } } } }'
    answer = (await post(admin, {"query": query})).json()
    assert answer["data"] is None
    assert any("MoneyParts" in e["message"] for e in answer["errors"]), answer


@pytest.mark.parametrize(
    ("literal", "named"),
    [
        ('registerDevice(token: "fcm\\u0000token", platform: IOS)', "argument token"),
        ('registerDevice(token: "fcm", platform: IOS, extra: "\\u0000")', "argument extra"),
        ('markNotificationsRead(ids: ["\\u0000"])', "argument ids"),
    ],
)
async def test_given_a_nul_written_as_an_escape_in_the_document_then_bad_user_input_naming_it(
    admin: Api, literal: str, named: str
):
    """The JSON body's strings are checked at the edge; a string literal of the document
    itself is text there ("\\u0000"), a NUL only once GraphQL parses it: refused all the
    same, before any resolver, and nothing is stored."""
    response = await post(admin, {"query": f"mutation {{ {literal} {{ __typename }} }}"})
    answer = response.json()

    assert answer["data"] is None, answer
    assert h.codes(answer) == ["BAD_USER_INPUT"], answer
    assert answer["errors"][0]["message"].startswith(named), answer
    assert "NUL" in answer["errors"][0]["message"]
    assert await Device.all().count() == 0
