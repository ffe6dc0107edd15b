"""The Stripe Connect adapter, stripe-python against the local stand-in on 127.0.0.1: one
transfer per instruction whatever is retried, replayed or dropped; the same key with other
parameters is a bug, not a failure; failures named and marked retryable or not."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from payments.methods.errors import ProviderBug
from payments.methods.models import Failed, Submitted
from payments.methods.sandbox.stripe_connect import StripeStandIn, running
from payments.methods.stripe_connect import StripeConfig, StripeConnect
from tests.payments.factories import SEPA_ACCOUNT, STRIPE_ACCOUNT, instruction

ACCOUNT = "acct_1Nv0FGQ9RKHgCVdK"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def standin() -> AsyncIterator[StripeStandIn]:
    s = StripeStandIn(accounts={ACCOUNT}, platform_balance={"eur": 10_000_000, "usd": 500})
    async with running(s):
        yield s


def _adapter(s: StripeStandIn, **changes) -> StripeConnect:
    return StripeConnect(StripeConfig(api_key=s.api_key, api_base=s.url, **changes))


async def test_given_an_instruction_when_paid_then_one_transfer_with_its_key_and_fields(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT, amount="123.45")

    outcome = await _adapter(standin).pay(item)

    [transfer] = standin.transfers
    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        12345, "eur", ACCOUNT,
    )  # fmt: skip
    assert transfer["transfer_group"] == item.reference
    assert transfer["metadata"] == {"podium_reference": item.reference,
                                    "podium_payee": str(item.payee_id)}  # fmt: skip
    [request] = standin.requests
    assert request["headers"]["Idempotency-Key"] == item.idempotency_key
    assert "Stripe-Account" not in request["headers"]  # a transfer is the platform's
    assert dict(parse_qsl(request["body"]))["amount"] == "12345"


async def test_given_an_item_paid_when_paid_again_then_stripe_replays_the_first_transfer(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    adapter = _adapter(standin)

    first = await adapter.pay(item)
    again = await _adapter(standin).pay(item)  # another process, after a crash

    assert first == again
    assert len(standin.transfers) == 1
    assert standin.platform_balance["eur"] == 10_000_000 - 10_000


async def test_given_the_answer_lost_after_stripe_executed_then_the_retry_gets_the_same_transfer(
    standin: StripeStandIn,
):
    standin.faults.drop = 1
    item = instruction(1, STRIPE_ACCOUNT)

    outcome = await _adapter(standin).pay(item)

    assert isinstance(outcome, Submitted)
    assert [t["id"] for t in standin.transfers] == [outcome.provider_id]
    keys = {r["headers"]["Idempotency-Key"] for r in standin.requests}
    assert len(standin.requests) == 2
    assert keys == {item.idempotency_key}


async def test_given_stripe_failing_then_retried_with_the_key_and_failed_retryable_at_last(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    standin.faults.refuse = [500, 503]
    assert isinstance(await _adapter(standin).pay(item), Submitted)  # stripe-python retried
    assert len(standin.transfers) == 1

    other = instruction(2, STRIPE_ACCOUNT)
    standin.faults.refuse = [500, 500, 500]
    failed = await _adapter(standin).pay(other)
    assert isinstance(failed, Failed)
    assert failed.retryable
    assert len(standin.transfers) == 1
    standin.faults.refuse = [429]
    limited = await _adapter(standin).pay(other)
    assert isinstance(limited, Failed)
    assert limited.retryable
    assert isinstance(await _adapter(standin).pay(other), Submitted)  # the batch's retry
    assert len(standin.transfers) == 2


async def test_given_the_same_key_with_other_parameters_then_a_provider_bug_and_no_transfer(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    await _adapter(standin).pay(item)

    with pytest.raises(ProviderBug, match="idempotency key"):
        await _adapter(standin).pay(replace(item, amount=Decimal("99.00")))

    assert len(standin.transfers) == 1


async def test_given_what_stripe_refuses_then_failed_with_its_code_and_not_retryable(
    standin: StripeStandIn,
):
    unknown = replace(STRIPE_ACCOUNT, stripe_account_id="acct_1UnknownAccount0")
    outcomes = [
        await _adapter(standin).pay(instruction(1, unknown)),
        await _adapter(standin).pay(instruction(2, STRIPE_ACCOUNT, currency="USD")),  # 5.00 left
        await StripeConnect(StripeConfig("sk_test_wrong", standin.url)).pay(
            instruction(3, STRIPE_ACCOUNT)
        ),
    ]

    assert [(o.code, o.retryable) for o in outcomes if isinstance(o, Failed)] == [
        ("resource_missing", False),
        ("balance_insufficient", False),
        ("AuthenticationError", False),
    ]
    assert "No such destination" in outcomes[0].reason
    assert standin.transfers == []


async def test_given_instructions_stripe_cannot_take_then_failed_before_any_request(
    standin: StripeStandIn,
):
    outcomes = [
        await _adapter(standin).pay(instruction(1, SEPA_ACCOUNT)),
        await _adapter(standin).pay(instruction(2, STRIPE_ACCOUNT, currency="XAU")),
        await _adapter(standin).pay(instruction(3, STRIPE_ACCOUNT, amount="1.001")),
        await _adapter(standin).pay(instruction(4, STRIPE_ACCOUNT, reference="a b")),
    ]

    assert [o.code for o in outcomes if isinstance(o, Failed)] == [
        "method", "currency", "amount", "reference",
    ]  # fmt: skip
    assert standin.requests == []


async def test_given_manual_payouts_then_a_payout_on_the_connected_account_follows(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT, amount="40.00")
    adapter = _adapter(standin, payout_per_transfer=True)

    await adapter.pay(item)
    await adapter.pay(item)

    [payout] = standin.payouts
    assert (payout["account"], payout["amount"]) == (ACCOUNT, 4000)
    assert payout["metadata"]["podium_reference"] == item.reference
    request = standin.requests[1]
    assert request["path"] == "/v1/payouts"
    assert request["headers"]["Stripe-Account"] == ACCOUNT
    assert request["headers"]["Idempotency-Key"] == f"{item.idempotency_key}-payout"
    assert standin.balance_of(ACCOUNT, "eur") == 0


async def test_given_many_items_at_once_each_sent_twice_then_each_is_paid_exactly_once(
    standin: StripeStandIn,
):
    standin.faults.delay = 0.01  # keeps requests in flight together: the 409 path runs
    items = [instruction(n, STRIPE_ACCOUNT, amount="1.00") for n in range(40)]
    adapter = _adapter(standin)

    outcomes = await asyncio.gather(*(adapter.pay(i) for i in items + items))

    assert all(isinstance(o, Submitted) for o in outcomes)
    assert len(standin.transfers) == 40
    assert len({t["metadata"]["podium_reference"] for t in standin.transfers}) == 40
    assert outcomes[:40] == outcomes[40:]


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"Stripe-Version": ""}, "amount=1&currency=eur", "Stripe-Version"),
        ({"Content-Type": "application/json"}, '{"amount": 1}', "form-encoded"),
        ({}, "amount=1&currency=eur&destination=" + ACCOUNT + "&bogus=1", "unknown parameter"),
        ({"Idempotency-Key": "k" * 256}, "amount=1&currency=eur", "255"),
        ({}, "amount=1.5&currency=eur&destination=" + ACCOUNT, "positive integer"),
    ],
)
async def test_given_requests_stripe_would_refuse_then_the_stand_in_refuses_them(
    standin: StripeStandIn, headers: dict[str, str], body: str, message: str
):
    base = {"Authorization": f"Bearer {standin.api_key}", "Stripe-Version": "2026-10-28.endive",
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    async with httpx.AsyncClient(base_url=standin.url) as client:
        response = await client.post("/v1/transfers", content=body, headers={**base, **headers})

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert standin.transfers == []


async def test_given_stripe_answering_500_then_each_retry_has_the_key_and_the_reason_is_named(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    standin.faults.refuse = [500, 502, 500]

    failed = await _adapter(standin, max_network_retries=2).pay(item)

    assert [r["headers"]["Idempotency-Key"] for r in standin.requests] == [item.idempotency_key] * 3
    assert failed == Failed(item.reference, "Stripe: the stand-in was told to fail this request",
                            "APIError", retryable=True)  # fmt: skip
    assert standin.transfers == []


async def test_given_stripe_timing_out_then_retried_with_the_key_and_failed_naming_it(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    standin.faults.hang = 3  # held unexecuted until the client gives up, each attempt

    failed = await _adapter(standin, timeout=0.2, max_network_retries=2).pay(item)

    assert failed == Failed(item.reference, "Stripe: could not be reached",
                            "APIConnectionError", retryable=True)  # fmt: skip
    assert [r["headers"]["Idempotency-Key"] for r in standin.requests] == [item.idempotency_key] * 3
    assert standin.transfers == []
    paid = await _adapter(standin).pay(item)  # the batch's retry, Stripe back
    assert isinstance(paid, Submitted)
    assert len(standin.transfers) == 1


async def test_given_a_timeout_while_stripe_executes_then_the_retry_gets_that_transfer(
    standin: StripeStandIn,
):
    item = instruction(1, STRIPE_ACCOUNT)
    # the first attempt executes at 0.3 s, after the client gave up at 0.1 s; the retry
    # comes at least 0.5 s later (stripe-python's backoff) with the same key
    standin.faults.delay = 0.3

    outcome = await _adapter(standin, timeout=0.1, max_network_retries=2).pay(item)

    [transfer] = standin.transfers
    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert len(standin.requests) >= 2
    assert {r["headers"]["Idempotency-Key"] for r in standin.requests} == {item.idempotency_key}
    assert standin.stats()["duplicates_per_key"] == 0


async def test_given_the_stand_in_in_its_own_process_then_it_counts_transfers_per_key_and_item():
    accounts = f"{ACCOUNT}\n".encode()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "payments.methods.sandbox.stripe_connect", "--balance",
        "eur=100000000", "--accounts", "-", cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(accounts)
        process.stdin.close()
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        adapter = StripeConnect(StripeConfig(api_key="sk_test_podium_standin", api_base=url))
        items = [instruction(n, STRIPE_ACCOUNT, amount="1.00") for n in range(10)]

        outcomes = await asyncio.gather(*(adapter.pay(i) for i in items + items))
        async with httpx.AsyncClient() as client:
            once = (await client.get(f"{url}/_standin/stats")).json()
            # the same item under another key: the stand-in cannot know, the count can
            await adapter.pay(replace(items[0], idempotency_key=f"{items[0].idempotency_key}-x"))
            twice = (await client.get(f"{url}/_standin/stats")).json()
        await adapter.close()
    finally:
        process.kill()
        await process.wait()

    assert all(isinstance(o, Submitted) for o in outcomes)
    assert (once["transfers"], once["duplicates_per_key"], once["duplicates_per_reference"]) == (
        10, 0, 0,
    )  # fmt: skip
    assert once["cpu_seconds"] > 0
    assert (twice["transfers"], twice["duplicates_per_key"], twice["duplicates_per_reference"]) == (
        11, 0, 1,
    )  # fmt: skip


def test_given_a_bad_port_when_the_stand_in_starts_then_one_line_and_exit_2():
    import socket
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        for port, said in (("99999999", "--port is 0 to 65535"), (str(busy), "cannot serve")):
            done = subprocess.run(
                [sys.executable, "-m", "payments.methods.sandbox.stripe_connect", "--port", port],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 2, done.stderr
            assert said in done.stderr
            assert "Traceback" not in done.stderr


@pytest.mark.parametrize("how", ["cut", "stall", "trickle"])
async def test_given_a_transfer_made_but_its_answer_cut_or_stalled_then_the_retry_gets_it(
    standin: StripeStandIn, how: str
):
    standin.faults.garble = [how]  # the transfer made, its answer cut or never finished
    item = instruction(1, STRIPE_ACCOUNT)

    outcome = await asyncio.wait_for(_adapter(standin, timeout=0.5).pay(item), 10)

    [transfer] = standin.transfers  # stripe-python's retry, same key, got the stored answer
    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert len(standin.requests) == 2


@pytest.mark.parametrize("how", ["html", "empty", "huge", "shapeless"])
async def test_given_a_transfer_made_but_its_answer_unreadable_then_retryable_then_paid_once(
    standin: StripeStandIn, how: str
):
    standin.faults.garble = [how]
    item = instruction(1, STRIPE_ACCOUNT)

    garbled = await asyncio.wait_for(_adapter(standin, timeout=0.5).pay(item), 10)
    recovered = await _adapter(standin).pay(item)  # the batch's next run, same key

    assert isinstance(garbled, Failed)
    assert garbled.retryable  # pending: never failed for good, never paid
    assert len(garbled.reason) <= 310  # an HTML page is not copied into the reason
    [transfer] = standin.transfers
    assert recovered == Submitted(item.reference, provider_id=transfer["id"])


async def test_given_stripe_answering_another_transfer_than_asked_then_failed_not_paid(
    standin: StripeStandIn,
):
    standin.faults.garble = ["other"]
    item = instruction(1, STRIPE_ACCOUNT, amount="123.45")

    outcome = await _adapter(standin).pay(item)

    [transfer] = standin.transfers
    assert outcome == Failed(
        item.reference,
        f"Stripe: transfer {transfer['id']} is 12344 eur PB0-1, not 12345 eur "
        f"{item.reference} as asked: look at it in the Stripe dashboard",
        "transfer_mismatch",
    )


# --- a run a day later: Stripe's lists read back, believed only in Stripe's shape -----------


def _posts(standin: StripeStandIn) -> int:
    return sum(1 for r in standin.requests if r.get("method") != "GET")


async def _made_a_day_ago(standin: StripeStandIn, **changes) -> tuple[object, dict]:
    """An instruction paid by an earlier run, a day ago: Stripe has forgotten its keys, and
    the batch's rerun looks for its transfer first."""
    item = instruction(1, STRIPE_ACCOUNT, amount="40.00")
    assert isinstance(await _adapter(standin, **changes).pay(item), Submitted)
    standin.forget_keys()
    [transfer] = standin.transfers
    return replace(item, look_first=True), transfer


async def test_given_a_rerun_a_day_later_then_the_transfer_and_its_payout_are_found_not_remade(
    standin: StripeStandIn,
):
    item, transfer = await _made_a_day_ago(standin, payout_per_transfer=True)
    posted = _posts(standin)

    outcome = await _adapter(standin, payout_per_transfer=True).pay(item)

    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert (_posts(standin), len(standin.transfers), len(standin.payouts)) == (posted, 1, 1)
    listed = [r for r in standin.requests if r.get("method") == "GET"]
    assert [r["path"] for r in listed] == ["/v1/transfers", "/v1/payouts"]
    assert listed[1]["headers"]["Stripe-Account"] == ACCOUNT  # the connected account's list


TRANSFER = {"id": "tr_00000000000001", "object": "transfer", "amount": 4000, "currency": "eur",
            "transfer_group": "item-000001", "reversed": False}  # fmt: skip
UNREADABLE_LISTS = [
    "html", "empty", "huge", "shapeless", "other",
    TRANSFER,  # a transfer, not a list
    {"object": "list", "has_more": False, "data": TRANSFER},  # data not a list
    {"object": "list", "has_more": False, "data": ["tr_00000000000001"]},  # ids, not objects
    {"object": "list", "has_more": False, "data": [{**TRANSFER, "object": "payout"}]},
    {"object": "list", "has_more": False, "data": [{**TRANSFER, "id": None}]},
    {"object": "list", "data": [TRANSFER]},  # no has_more: not Stripe's list
    {"object": "list", "has_more": True, "data": []},
]  # fmt: skip


@pytest.mark.parametrize("how", UNREADABLE_LISTS, ids=lambda h: h if isinstance(h, str) else None)
async def test_given_an_unreadable_list_of_transfers_a_day_later_then_pending_never_made_twice(
    standin: StripeStandIn, how: str | dict
):
    """Never paid on an unreadable list, and never a transfer after one: Stripe, having
    forgotten the key, would make a second."""
    item, transfer = await _made_a_day_ago(standin)
    posted = _posts(standin)
    standin.faults.garble_list = [how]

    outcome = await asyncio.wait_for(_adapter(standin, timeout=0.5).pay(item), 10)

    assert isinstance(outcome, Failed)
    assert outcome.retryable  # pending, for the next run
    assert len(outcome.reason) <= 310
    assert (_posts(standin), len(standin.transfers)) == (posted, 1)
    recovered = await _adapter(standin).pay(item)  # the next run reads a clean list
    assert recovered == Submitted(item.reference, provider_id=transfer["id"])
    assert (_posts(standin), len(standin.transfers)) == (posted, 1)


@pytest.mark.parametrize("how", ["cut", "stall", "trickle"])
async def test_given_a_list_of_transfers_cut_or_stalled_a_day_later_then_read_again_not_remade(
    standin: StripeStandIn, how: str
):
    item, transfer = await _made_a_day_ago(standin)
    posted = _posts(standin)
    standin.faults.garble_list = [how]

    outcome = await asyncio.wait_for(_adapter(standin, timeout=0.5).pay(item), 10)

    # stripe-python's retry of the GET (a connection error) read the list whole
    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert (_posts(standin), len(standin.transfers)) == (posted, 1)
    assert sum(1 for r in standin.requests if r.get("method") == "GET") == 2


PAYOUT = {"id": "po_00000000000001", "object": "payout", "amount": 4000, "currency": "eur"}


@pytest.mark.parametrize(
    "how",
    [
        "html", "empty", "shapeless", "other",
        {"object": "list", "has_more": False, "data": [{**PAYOUT, "metadata": "item-000001"}]},
        {"object": "list", "has_more": False, "data": [{**PAYOUT, "object": None}]},
        {"object": "list", "has_more": False, "data": []},  # readable: its payout is not there
    ],
    ids=lambda h: h if isinstance(h, str) else None,
)  # fmt: skip
async def test_given_an_unreadable_list_of_payouts_a_day_later_then_pending_not_failed(
    standin: StripeStandIn, how: str | dict
):
    """A transfer made whose payout cannot be read or found: the item stays pending, named
    (failed, its statement would be paid again by the next batch: a second transfer)."""
    item, transfer = await _made_a_day_ago(standin, payout_per_transfer=True)
    posted = _posts(standin)
    standin.faults.garble_list = ["plain", how]  # the transfers' list read, the payouts' not

    outcome = await _adapter(standin, payout_per_transfer=True).pay(item)

    assert isinstance(outcome, Failed)
    assert outcome.retryable
    assert (_posts(standin), len(standin.transfers), len(standin.payouts)) == (posted, 1, 1)


async def test_given_two_transfers_of_an_item_listed_a_day_later_then_pending_naming_it(
    standin: StripeStandIn,
):
    item, transfer = await _made_a_day_ago(standin)
    await _adapter(standin).pay(replace(item, look_first=False,
                                        idempotency_key=f"{item.idempotency_key}-x"))  # fmt: skip
    posted = _posts(standin)

    outcome = await _adapter(standin).pay(item)

    assert isinstance(outcome, Failed)
    assert (outcome.code, outcome.retryable) == ("transfers_made_twice", True)
    assert "settle the item by hand" in outcome.reason
    assert (_posts(standin), len(standin.transfers)) == (posted, 2)


async def test_given_the_transfer_listed_a_day_later_was_reversed_then_failed_not_paid(
    standin: StripeStandIn,
):
    item, transfer = await _made_a_day_ago(standin)
    standin.transfers[0]["reversed"] = True

    outcome = await _adapter(standin).pay(item)

    assert isinstance(outcome, Failed)
    assert (outcome.code, outcome.retryable) == ("transfer_reversed", False)
    assert len(standin.transfers) == 1


# --- Retry-After: what stripe-python 16 does with it (Podium adds nothing) ------------------


async def test_given_a_429_asking_to_wait_then_stripe_python_neither_waits_nor_retries(
    standin: StripeStandIn,
):
    """stripe-python 16 never reads Retry-After and does not retry a 429 (only connection
    errors, 409 and 5xx, or what Stripe-Should-Retry says): the item is Failed and retryable
    at once, pending for the batch's next run, which sends the same key. Nothing waits."""
    standin.faults.refuse = [(429, "30")]
    item = instruction(1, STRIPE_ACCOUNT)
    started = asyncio.get_running_loop().time()

    outcome = await asyncio.wait_for(_adapter(standin).pay(item), 10)

    assert asyncio.get_running_loop().time() - started < 2
    assert isinstance(outcome, Failed)
    assert (outcome.code, outcome.retryable) == ("RateLimitError", True)
    assert len(standin.requests) == 1
    assert standin.transfers == []


async def test_given_a_503_asking_to_wait_then_stripe_python_retries_on_its_own_backoff(
    standin: StripeStandIn,
):
    """A 503 is retried with the same key after stripe-python's own backoff (0.5 s doubled,
    at most 5 s, ``max_network_retries`` times), whatever Retry-After asks: bounded."""
    standin.faults.refuse = [(503, "30")]
    item = instruction(1, STRIPE_ACCOUNT)
    started = asyncio.get_running_loop().time()

    outcome = await asyncio.wait_for(_adapter(standin).pay(item), 10)

    assert asyncio.get_running_loop().time() - started < 5  # not the 30 s asked
    [transfer] = standin.transfers
    assert outcome == Submitted(item.reference, provider_id=transfer["id"])
    assert [r["headers"]["Idempotency-Key"] for r in standin.requests] == [item.idempotency_key] * 2
