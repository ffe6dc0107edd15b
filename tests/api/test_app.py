"""The application over HTTP: liveness and readiness, GraphiQL only in development, request
ids in JSON logs, errors that never leak, the request limits and automatic persisted queries."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from graphql import get_introspection_query, print_ast
from redis.asyncio import Redis

from api.app import create_app
from api.auth import Authenticator
from api.database import database_is_open
from api.graphql.persisted import KEY_PREFIX
from api.settings import Limits, Settings, SettingsError, local_url
from domain.db import DEFAULT_POOL_SIZE, close_db, init_db, normalize_url
from domain.org.models import Role
from domain.org.repository import UserRepository
from domain.tenants.models import Tenant
from tests.api.graphql import fixtures as _fixtures
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api, serve
from tests.api.graphql.test_contract import (
    WAITING,
    operation_document,
    operation_names,
)
from tests.conftest import reset_tables
from tests.fonts import box_font
from workers.heartbeat import beat_once

api = _fixtures.api
READY = {"postgres": "ok", "redis": "ok", "worker": "ok", "inbox": "ok"}
settings = _fixtures.settings

NOWHERE_DB = "postgres://postgres@127.0.0.1:1/nowhere"
NOWHERE_REDIS = "redis://127.0.0.1:1/0"


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------- health and readiness


async def test_given_the_app_when_health_then_ok_with_a_request_id(api: Api):
    response = await api.http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_given_postgres_redis_and_a_worker_up_when_ready_then_200(api: Api, redis: Redis):
    await beat_once(redis)

    response = await api.http.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": READY}


async def test_given_postgres_down_when_ready_then_503_naming_it(redis_url: str):
    client = Redis.from_url(redis_url)
    await beat_once(client)
    await client.aclose()
    app = create_app(Settings(database_url=NOWHERE_DB, redis_url=redis_url))

    async with serve(app) as http:
        response = await http.get("/ready")
        health = await http.get("/health")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"postgres": "unavailable", "redis": "ok", "worker": "ok"},
    }
    assert health.status_code == 200


async def test_given_redis_down_when_ready_then_503_naming_it(db: str, settings: Settings):
    app = create_app(replace(settings, redis_url=NOWHERE_REDIS))

    async with serve(app) as http:
        response = await http.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"postgres": "ok", "redis": "unavailable", "inbox": "ok"}


async def test_given_no_database_open_when_the_lifespan_runs_then_it_opens_and_closes_it(
    database_url: str, redis_url: str
):
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    client = Redis.from_url(redis_url)
    await beat_once(client)
    await client.aclose()

    assert not database_is_open()
    async with serve(app) as http:
        assert database_is_open()
        # the whole pool open before the first request: a burst never waits for connections
        assert await _backends(database_url) >= DEFAULT_POOL_SIZE  # others may be closing
        ready = await http.get("/ready")
    checks = ready.json()["checks"]
    assert (checks["postgres"], checks["redis"], checks["worker"]) == ("ok", "ok", "ok")
    assert not database_is_open()


async def _backends(database_url: str) -> int:
    """The connections to this database but the one asking."""
    connection = await asyncpg.connect(normalize_url(database_url))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await connection.close()


async def test_given_a_database_already_open_when_the_lifespan_ends_then_it_stays_open(
    db: str, redis: Redis, settings: Settings
):
    async with serve(create_app(settings)) as http:
        await http.get("/ready")

    assert database_is_open()
    assert await Tenant.all().count() == 0


# ---------------------------------------------------------------- GraphiQL


async def test_given_development_when_a_browser_opens_graphql_then_graphiql(api: Api):
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_given_production_when_a_browser_opens_graphql_then_404(db: str, settings: Settings):
    async with serve(create_app(replace(settings, env="production"))) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        query = await http.get("/graphql", params={"query": "{ __typename }"})

    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()
    assert query.json() == {"data": {"__typename": "Query"}}


# ---------------------------------------------------------------- request ids, logs, errors


async def test_given_a_client_request_id_then_echoed_and_in_the_log(
    db: str, redis: Redis, settings: Settings, capsys: pytest.CaptureFixture[str]
):
    async with serve(create_app(settings)) as http:
        mine = await http.get("/health", headers={"X-Request-ID": "mobile-42.abc"})
        hostile = await http.get("/health", headers={"X-Request-ID": "a b\nc" + "x" * 80})

    assert mine.headers["x-request-id"] == "mobile-42.abc"
    assert hostile.headers["x-request-id"] != "a b\nc" + "x" * 80
    access = [r for r in log_lines(capsys.readouterr().err) if r.get("event") == "request"]
    assert {r["request_id"] for r in access} == {"mobile-42.abc", hostile.headers["x-request-id"]}
    assert all(r["path"] == "/health" and r["status"] == 200 for r in access)


async def test_given_a_resolver_failing_unexpectedly_then_internal_error_with_request_id_only(
    db: str,
    redis: Redis,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")

    class Broken(UserRepository):
        async def get(self, user_id: Any, **kwargs: Any) -> Any:
            raise RuntimeError("password=hunter2 at db.internal:5432")

    async with serve(create_app(settings)) as http:
        monkeypatch.setattr("api.graphql.people.queries.UserRepository", Broken)
        response = await http.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {h.token(t, ana)}", "X-Request-ID": "req-500"},
        )

    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["me"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-500"},
        }
    ]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in log_lines(capsys.readouterr().err) if r.get("level") == "error"]
    assert len(logged) == 1
    assert logged[0]["request_id"] == "req-500"
    assert logged[0]["path"] == ["me"]
    assert logged[0]["tenant_id"] == str(t.id)
    assert logged[0]["user_id"] == str(ana.id)
    assert "RuntimeError: password=hunter2" in logged[0]["exception"]


async def test_given_a_failure_outside_graphql_execution_then_json_500_without_trace(
    db: str,
    redis: Redis,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    async def broken(self: Any, authorization: Any, **kwargs: Any) -> Any:
        raise ConnectionError("pool exhausted on 10.0.0.7")

    monkeypatch.setattr(Authenticator, "viewer", broken)
    async with serve(create_app(settings)) as http:
        response = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "req-boom"}
        )

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-boom"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom"},
            }
        ]
    }
    logs = log_lines(capsys.readouterr().err)
    failure = next(r for r in logs if r.get("event") == "unhandled error")
    assert failure["request_id"] == "req-boom"
    assert "10.0.0.7" in failure["exception"]
    assert any(r.get("event") == "request" and r["status"] == 500 for r in logs)


async def test_given_a_syntax_error_then_a_graphql_error_not_a_crash(api: Api):
    result = (await api.http.post("/graphql", json={"query": "{ me { "})).json()

    assert result["data"] is None
    assert result["errors"][0]["message"].startswith("Syntax Error")
    assert h.codes(result) == ["GRAPHQL_PARSE_FAILED"]


async def test_given_a_request_graphql_refuses_then_each_error_coded_by_the_step(api: Api):
    """Apps branch on extensions.code: an error GraphQL itself raises has one too, named
    after the step that refused the request (the message names what is wrong)."""
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    as_ana = api.as_(t, ana)
    history = "query($n: Int!) { me { earningsHistory(last: $n) { period } } }"
    what_if = "query($a: Decimal!) { me { whatIf(amount: $a) { delta { amount } } } }"

    unknown = await as_ana.gql("{ me { nope } }")
    missing = await as_ana.gql(history)
    wrong_type = await as_ana.gql(history, {"n": "twelve"})
    not_a_number = await as_ana.gql(what_if, {"a": "12,50"})
    two = await as_ana.gql("query A { me { id } } query B { me { id } }")
    # a nullable variable with a default may feed a non-null argument; an explicit null then
    # fails that argument, as the field runs
    null_argument = await as_ana.gql(
        'query($a: Decimal = "1") { me { whatIf(amount: $a) { delta { amount } } } }', {"a": None}
    )

    assert h.codes(unknown) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Cannot query field 'nope'" in unknown["errors"][0]["message"]
    for result in (missing, wrong_type, not_a_number):
        assert result["data"] is None
        assert h.codes(result) == ["BAD_USER_INPUT"], result
        assert result["errors"][0]["message"].startswith("Variable '$"), result
    assert "'12,50' is not a decimal number" in not_a_number["errors"][0]["message"]
    assert h.codes(two) == ["BAD_USER_INPUT"]
    assert h.codes(null_argument) == ["BAD_USER_INPUT"], null_argument
    assert null_argument["errors"][0]["message"].startswith("Argument 'amount'"), null_argument


async def test_given_a_domain_error_then_bad_user_input_with_the_field(api: Api):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")

    result = await api.as_(t, ana).gql('{ me { earnings(period: "2026-13") { period } } }')

    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "period"}
    assert result["errors"][0]["message"] == "month 13 out of range in period '2026-13'"


# ---------------------------------------------------------------- limits


async def limited(settings: Settings, limits: Limits, query: str, variables: Any = None) -> Any:
    async with serve(create_app(replace(settings, limits=limits))) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    return response.json()


async def test_given_a_query_deeper_than_the_limit_then_refused_naming_it(
    db: str, redis: Redis, settings: Settings
):
    query = "query Deep { me { earnings { lines { edges { node { amount { amount } } } } } } }"

    refused = await limited(settings, Limits(max_depth=5), query)
    allowed = await limited(settings, Limits(max_depth=6), query)

    assert refused["errors"][0]["message"] == "'Deep' exceeds maximum operation depth of 5"
    assert refused["errors"][0]["extensions"] == {"code": "QUERY_TOO_DEEP"}
    assert "depth" not in str(allowed.get("errors", ""))


async def test_given_more_aliases_than_the_limit_then_refused_naming_it(
    db: str, redis: Redis, settings: Settings
):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"

    refused = await limited(settings, Limits(), query)
    allowed = await limited(settings, Limits(max_aliases=31), query)

    assert refused == {
        "data": None,
        "errors": [
            {
                "message": "31 aliases found. Allowed: 30",
                "extensions": {"code": "TOO_MANY_ALIASES"},
            }
        ],
    }
    assert allowed["data"]["a30"] == "Query"


async def test_given_more_tokens_than_the_limit_then_refused_naming_it(
    db: str, redis: Redis, settings: Settings
):
    query = "{ " + " ".join(["__typename"] * 4001) + " }"

    refused = await limited(settings, Limits(), query)

    assert refused["data"] is None
    assert refused["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."
    )
    assert refused["errors"][0]["extensions"] == {"code": "TOO_MANY_TOKENS"}


async def test_given_a_connection_when_costed_then_first_multiplies_and_the_limit_names_it(
    db: str, redis: Redis, settings: Settings
):
    query = (
        "query Lines($n: Int) { me { earnings { lines(first: $n) { edges { node { id } } } } } }"
    )
    # node 1+1, edges 1+2 (not multiplied again), lines 1+n*3, earnings +1, me +1
    small = Limits(max_cost=17)

    over = await limited(settings, small, query, {"n": 5})
    under = await limited(settings, small, query, {"n": 4})

    assert over["errors"] == [
        {
            "message": "'Lines' costs 18, more than the maximum cost of 17: ask for fewer "
            "items with first/last",
            "locations": [{"line": 1, "column": 1}],
            "extensions": {"code": "QUERY_TOO_COSTLY", "cost": 18, "maxCost": 17},
        }
    ]
    assert h.codes(under) == ["UNAUTHENTICATED"]  # allowed to run; nobody signed in


async def test_given_a_validated_document_cached_when_variables_change_then_cost_is_recounted(
    db: str, redis: Redis, settings: Settings
):
    # one app, so one parse/validation cache: the document is validated once, but the cost
    # depends on $n and must be counted for every request
    query = (
        "query Lines($n: Int) { me { earnings { lines(first: $n) { edges { node { id } } } } } }"
    )
    async with serve(create_app(replace(settings, limits=Limits(max_cost=17)))) as http:
        verdicts = []
        for n in (4, 5, 4, 5):
            response = await http.post("/graphql", json={"query": query, "variables": {"n": n}})
            verdicts.append(h.codes(response.json()))

    assert verdicts == [
        ["UNAUTHENTICATED"],
        ["QUERY_TOO_COSTLY"],
        ["UNAUTHENTICATED"],
        ["QUERY_TOO_COSTLY"],
    ]


async def test_given_lists_without_first_then_the_default_size_counts(
    db: str, redis: Redis, settings: Settings
):
    query = "{ me { team { rep { id } } earningsHistory { period } } }"
    # team: 1 + 20 * (rep 1+1); earningsHistory(last: 12 by default): 1 + 12 * 1; me: 1
    over = await limited(settings, Limits(max_cost=54), query)
    under = await limited(settings, Limits(max_cost=55), query)

    assert over["errors"][0]["extensions"]["cost"] == 55
    assert h.codes(under) == ["UNAUTHENTICATED"]


async def test_given_default_limits_when_a_team_asks_two_pages_of_100_lines_then_too_costly(
    api: Api,
):
    lines = "lines(first: 100) { edges { node { id amount { amount currency formatted } } } }"
    query = f"{{ me {{ team {{ rep {{ earnings {{ a: {lines} b: {lines} }} }} }} }} }}"

    result = (await api.http.post("/graphql", json={"query": query})).json()

    assert h.codes(result) == ["QUERY_TOO_COSTLY"]
    assert result["errors"][0]["extensions"]["maxCost"] == 20000


async def test_given_default_limits_when_graphiql_introspects_then_allowed(api: Api):
    result = (await api.http.post("/graphql", json={"query": get_introspection_query()})).json()

    assert "errors" not in result
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_given_default_limits_when_every_client_operation_runs_then_none_is_refused(
    api: Api,
):
    t = await h.tenant("acme")
    admin = await h.person(t, "ada", role=Role.ADMIN)
    checked = []
    for name in operation_names():
        if name in WAITING or name in ("OnEarnings", "OnLeaderboard"):
            continue  # subscriptions run over WebSocket: tests/api/graphql/test_subscriptions.py
        document = print_ast(operation_document(name))
        result = await api.as_(t, admin).gql(document, {}, name)
        limit_errors = [
            e
            for e in result.get("errors", [])
            if e.get("extensions", {}).get("code") == "QUERY_TOO_COSTLY"
            or any(word in e["message"] for word in ("depth", "aliases", "tokens"))
        ]
        assert limit_errors == [], name
        checked.append(name)
    # 11, the targets operations (MyTargets, AcceptTarget, AllocateTarget), the
    # leaderboards' (Leaderboard, CreateLeaderboard), the contests' (Contests, LaunchContest,
    # ContestStandings), the badges' and levels' (MyBadges, LevelMap), the statements'
    # (MyStatements, Statement, ApproveStatements, AddAdjustment, RaiseDispute,
    # ResolveDispute, Accruals) and SetPayoutDetails
    assert len(checked) == 33


async def test_given_a_mutation_over_get_or_a_batch_then_refused(api: Api):
    mutation = 'mutation { acceptPlan(assignmentId: "x") { __typename } }'

    by_get = await api.http.get("/graphql", params={"query": mutation})
    batch = await api.http.post("/graphql", json=[{"query": "{ __typename }"}] * 2)

    assert by_get.status_code == batch.status_code == 400
    assert by_get.json()["errors"] == [
        {
            "message": "mutations are not allowed when using GET",
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]
    assert batch.json()["errors"][0]["message"] == "Batching is not enabled"


# ---------------------------------------------------------------- automatic persisted queries

APQ_QUERY = "{ __typename }"
APQ_HASH = hashlib.sha256(APQ_QUERY.encode()).hexdigest()


def apq(sha: str = APQ_HASH, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha}}


async def test_given_an_unknown_hash_then_persisted_query_not_found(api: Api):
    response = await api.http.post("/graphql", json={"extensions": apq()})

    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ],
    }


async def test_given_the_apollo_flow_then_the_hash_alone_runs_the_query_by_post_and_get(
    api: Api, redis: Redis, settings: Settings
):
    t = await h.tenant("acme")
    rep = api.as_(t, await h.person(t, "ana"))
    miss = await api.http.post("/graphql", json={"extensions": apq()})
    register = await rep.post({"query": APQ_QUERY, "extensions": apq()})
    by_post = await api.http.post("/graphql", json={"extensions": apq()})
    by_get = await api.http.get(
        "/graphql", params={"extensions": json.dumps(apq())}, headers={"Accept": "*/*"}
    )

    assert h.codes(miss.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    for response in (register, by_post, by_get):
        assert response.status_code == 200
        assert response.json() == {"data": {"__typename": "Query"}}
    assert await redis.get(KEY_PREFIX + APQ_HASH) == APQ_QUERY.encode()
    ttl = await redis.ttl(KEY_PREFIX + APQ_HASH)
    assert 0 < ttl <= settings.limits.persisted_query_ttl


async def test_given_an_anonymous_or_oversized_registration_then_it_runs_and_is_not_kept(
    api: Api, redis: Redis
):
    t = await h.tenant("acme")
    rep = api.as_(t, await h.person(t, "ana"))
    padded = "{ __typename }" + " " * (16 * 1024)
    padded_hash = hashlib.sha256(padded.encode()).hexdigest()

    anonymous = await api.http.post("/graphql", json={"query": APQ_QUERY, "extensions": apq()})
    oversized = await rep.post({"query": padded, "extensions": apq(padded_hash)})
    again = await rep.post({"extensions": apq(padded_hash)})

    assert anonymous.json() == {"data": {"__typename": "Query"}}
    assert oversized.json() == {"data": {"__typename": "Query"}}
    assert h.codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert await redis.keys(KEY_PREFIX + "*") == []


async def test_given_a_hash_that_is_not_the_querys_then_400_and_nothing_stored(
    api: Api, redis: Redis
):
    wrong = hashlib.sha256(b"{ me { id } }").hexdigest()

    response = await api.http.post("/graphql", json={"query": APQ_QUERY, "extensions": apq(wrong)})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "provided sha does not match query", "extensions": {"code": "BAD_REQUEST"}}
    ]
    assert await redis.keys(KEY_PREFIX + "*") == []


async def test_given_a_malformed_or_future_persisted_query_then_400(api: Api):
    version_two = await api.http.post("/graphql", json={"extensions": apq(version=2)})
    short = await api.http.post("/graphql", json={"extensions": apq(sha="abc")})

    assert version_two.status_code == 400
    assert h.codes(version_two.json()) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
    assert short.status_code == 400
    assert h.codes(short.json()) == ["BAD_REQUEST"]


async def test_given_an_invalid_query_with_its_hash_then_not_stored(api: Api, redis: Redis):
    query = "{ nope }"
    sha = hashlib.sha256(query.encode()).hexdigest()

    response = await api.http.post("/graphql", json={"query": query, "extensions": apq(sha)})

    assert "Cannot query field 'nope'" in response.json()["errors"][0]["message"]
    assert await redis.get(KEY_PREFIX + sha) is None


async def test_given_a_persisted_query_then_limits_still_apply(
    db: str, redis: Redis, settings: Settings
):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(3)) + " }"
    sha = hashlib.sha256(query.encode()).hexdigest()
    await redis.set(KEY_PREFIX + sha, query)

    async with serve(create_app(replace(settings, limits=Limits(max_aliases=2)))) as http:
        response = await http.post("/graphql", json={"extensions": apq(sha)})

    assert response.json()["errors"][0]["message"] == "3 aliases found. Allowed: 2"


# ---------------------------------------------------------------- settings


def test_given_the_environment_then_limits_and_defaults_are_read():
    settings = Settings.from_env({"PODIUM_MAX_DEPTH": "7", "PODIUM_MAX_COST": "500"})

    assert settings.limits == Limits(max_depth=7, max_cost=500)
    assert settings.development
    assert Limits() == Limits(
        max_depth=12,
        max_aliases=30,
        max_tokens=4000,
        max_cost=20000,
        default_list_size=20,
        persisted_query_ttl=30 * 24 * 3600,
        max_body_bytes=1024 * 1024,
        max_persisted_query_chars=16 * 1024,
        max_subscriptions_per_person=10,
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PODIUM_ENV": "production"}, "DATABASE_URL and REDIS_URL are required"),
        (
            {
                "PODIUM_ENV": "production",
                "DATABASE_URL": "postgres://x/y",
                "REDIS_URL": "redis://x",
                "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
            },
            "FIREBASE_AUTH_EMULATOR_HOST must not be set in production",
        ),
        ({"PODIUM_MAX_COST": "lots"}, "PODIUM_MAX_COST must be a whole number"),
        ({"PODIUM_MAX_DEPTH": "0"}, "PODIUM_MAX_DEPTH must be positive"),
        ({"PODIUM_ENV": "staging"}, "PODIUM_ENV must be development or production"),
        (
            {
                "PODIUM_ENV": "production",
                "DATABASE_URL": "postgres://x/y",
                "REDIS_URL": "redis://x",
            },
            "PODIUM_URL_SIGNING_KEY is required when PODIUM_ENV=production",
        ),
        ({"PODIUM_ISSUER_KEY_SECRET": "short"}, "PODIUM_ISSUER_KEY_SECRET must be at least 32"),
        (
            {"PODIUM_PAYOUT_DETAILS_SECRET": "short"},
            "PODIUM_PAYOUT_DETAILS_SECRET must be at least 32",
        ),
        (
            {
                "PODIUM_ENV": "production",
                "DATABASE_URL": "postgres://x/y",
                "REDIS_URL": "redis://x",
                "PODIUM_URL_SIGNING_KEY": "k" * 32,
                "PODIUM_ISSUER_KEY_SECRET": "s" * 32,
            },
            "PODIUM_PAYOUT_DETAILS_SECRET is required when PODIUM_ENV=production",
        ),
        (
            {
                "PODIUM_ENV": "production",
                "DATABASE_URL": "postgres://x/y",
                "REDIS_URL": "redis://x",
                "PODIUM_URL_SIGNING_KEY": "k" * 32,
                "PODIUM_ISSUER_KEY_SECRET": "s" * 32,
                "PODIUM_PAYOUT_DETAILS_SECRET": "p" * 32,
            },
            "PODIUM_PUBLIC_URL is required when PODIUM_ENV=production",
        ),
        ({"PODIUM_PUBLIC_URL": "podium.example.com"}, "PODIUM_PUBLIC_URL must be an http"),
        ({"PODIUM_PUBLIC_URL": "ftp://podium.example.com"}, "PODIUM_PUBLIC_URL must be an http"),
        ({"PODIUM_PUBLIC_URL": "https://a@evil.example"}, "PODIUM_PUBLIC_URL must be an http"),
        ({"PODIUM_PUBLIC_URL": "https://x.example/?next=y"}, "PODIUM_PUBLIC_URL must be an http"),
        ({"PODIUM_PUBLIC_URL": "https://x.example:99999"}, "PODIUM_PUBLIC_URL has a bad port"),
        ({"PODIUM_PUBLIC_URL": "https://x.example/\n"}, "PODIUM_PUBLIC_URL must be an http"),
    ],
)
def test_given_bad_settings_then_refused_naming_the_variable(environ: dict[str, str], message: str):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_given_a_public_url_then_kept_without_its_trailing_slash_and_served_ones_by_default():
    assert Settings.from_env({}).public_url == "http://127.0.0.1:8000"
    found = Settings.from_env({"PODIUM_PUBLIC_URL": "https://podium.example.com/api/"})
    assert found.public_url == "https://podium.example.com/api"
    # podium dev and a development serve: the address they listen on
    assert local_url("127.0.0.1", 8621) == "http://127.0.0.1:8621"
    assert local_url("0.0.0.0", 8622) == "http://127.0.0.1:8622"
    assert local_url("::1", 8623) == "http://[::1]:8623"


def test_given_pdf_fonts_then_each_file_is_checked_and_kept_in_order(tmp_path: Path):
    first = box_font(tmp_path / "first.ttf", "山田")
    second = box_font(tmp_path / "second.otf", "太郎")  # TrueType outlines, named .otf

    settings = Settings.from_env({"PODIUM_PDF_FONTS": f"{first}{os.pathsep}{second}"})

    assert settings.pdf_fonts == (str(first), str(second))
    assert Settings().pdf_fonts == ()  # only from_env looks for the machine's fonts


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("NotoSansCJK-Regular.ttc", None, "no such file"),
        ("fonts", "dir", "not a file"),
        ("font.txt", b"text", "not a font file fpdf2 loads (.ttf, .otf, .ttc"),
        ("font.ttf", b"<html>not found</html>", "not a font fpdf2 can load: Not a TrueType"),
    ],
)
def test_given_pdf_fonts_naming_no_usable_font_then_one_line_naming_the_setting_and_path(
    tmp_path: Path, name: str, content: bytes | str | None, reason: str
):
    good, bad = box_font(tmp_path / "good.ttf"), tmp_path / name
    if content == "dir":
        bad.mkdir()
    elif isinstance(content, bytes):
        bad.write_bytes(content)

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"PODIUM_PDF_FONTS": f"{good}{os.pathsep}{bad}"})

    assert str(refused.value).startswith(f"PODIUM_PDF_FONTS: {bad}: {reason}")
    assert "\n" not in str(refused.value)


# ---------------------------------------------------------------- a real server


def test_given_uvicorn_running_the_factory_when_called_over_tcp_then_lifespan_and_requests_work(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    """What `podium serve` does: uvicorn imports the factory, runs the lifespan in one task and
    every request in others, over a real socket on 127.0.0.1."""

    async def given() -> tuple[Tenant, Any]:
        await init_db(database_url)
        try:
            await reset_tables()
            t = await h.tenant("acme")
            client = Redis.from_url(redis_url)
            await beat_once(client)
            await client.aclose()
            return t, await h.person(t, "ana")
        finally:
            await close_db()

    t, ana = asyncio.run(given())
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PODIUM_ENV", "production")
    monkeypatch.setenv("PODIUM_URL_SIGNING_KEY", "k" * 32)
    monkeypatch.setenv("PODIUM_ISSUER_KEY_SECRET", "s" * 32)
    monkeypatch.setenv("PODIUM_PAYOUT_DETAILS_SECRET", "p" * 32)
    monkeypatch.setenv("PODIUM_PUBLIC_URL", "https://podium.example.com")
    config = uvicorn.Config(
        "api.app:create_app", factory=True, host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ready = http.get("/ready")
            me = http.post(
                "/graphql",
                json={"query": "{ me { displayName } }"},
                headers={"Authorization": f"Bearer {h.token(t, ana)}"},
            )
            again = http.post(
                "/graphql",
                json={"query": "{ me { displayName } }"},
                headers={"Authorization": f"Bearer {h.token(t, ana)}"},
            )
            ide = http.get("/graphql", headers={"Accept": "text/html"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    assert ready.status_code == 200
    assert me.json() == {"data": {"me": {"displayName": "Ana"}}}
    assert again.json() == me.json()
    assert ide.status_code == 404  # production: no GraphiQL
    assert not thread.is_alive()
