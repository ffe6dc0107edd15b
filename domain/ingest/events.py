"""The generic CRM event (CRM_EVENTS.md), parsed and validated without I/O.

What needs the database (is this rep known?) is asked through ``known_reps``: the caller
passes the CRM ids it knows, so the same check runs in the webhook and in the worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.ingest.errors import InvalidEnvelope, InvalidEvent, TooManyEvents, UnknownRep
from domain.kit.documents import (
    MAX_DEPTH,
    fields_problem,
    loads_json,
    unstorable_path,
    unstorable_text,
)
from domain.kit.errors import InvalidInput, quoted
from domain.kit.money import is_currency, not_a_currency
from domain.kit.numbers import FIELD_DIGITS, MAX_VERSION, check_decimal, parse_decimal
from domain.kit.periods import parse_date
from domain.kit.text import name_problem

TRANSACTION_UPSERTED = "transaction.upserted"
TRANSACTION_DELETED = "transaction.deleted"
REP_UPSERTED = "rep.upserted"
EVENT_TYPES = (TRANSACTION_UPSERTED, TRANSACTION_DELETED, REP_UPSERTED)
# What plan expressions read of a transaction besides its extra fields (PLAN_SPEC.md section
# 2): an extra field of one of these names could never be read (the engine reads the
# transaction's own), so it is refused rather than stored and silently ignored
OWN_FIELD_NAMES = frozenset(
    {"id", "rep_id", "type", "amount", "amount_original", "currency", "date", "state"}
)

# events one request may carry (CRM_EVENTS.md): more is 413, before any of them is looked at
MAX_EVENTS = 1000
# ISO 8601 date-times in ASCII digits (fromisoformat also takes other digits in places)
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.,+\-Z]*)?")
ONE = Decimal(1)


def loads_exact(text: str | bytes) -> Any:
    """JSON with every number exact: fractions become Decimal, never float. ValueError for
    malformed JSON and for a document nested deeper than ``MAX_DEPTH``."""
    return loads_json(text, max_depth=MAX_DEPTH)


def _unstorable_path(value: Any, path: str) -> str | None:
    found = unstorable_path(value, path)
    return None if found is None else found or "event"


def parse_envelope(body: bytes) -> list[Any]:
    """The ``events`` list of a request body; anything else is an InvalidEnvelope (400)."""
    try:
        document = loads_exact(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEnvelope(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(document, dict):
        raise InvalidEnvelope("must be a JSON object with an events list", field="body")
    events = document.get("events")
    if not isinstance(events, list):
        raise InvalidEnvelope("must be a list of events", field="events")
    check_event_count(len(events))
    unknown = sorted(set(document) - {"events"})
    if unknown:
        raise InvalidEnvelope(f"unknown key {quoted(unknown[0])}", field=unknown[0][:80])
    return events


def check_event_count(count: int, what: str = "events") -> None:
    """TooManyEvents (413) for a request of more than ``MAX_EVENTS`` events."""
    if count > MAX_EVENTS:
        raise TooManyEvents(
            f"{count} {what} in one request; at most {MAX_EVENTS} are accepted: send them "
            "in smaller batches",
            field="events",
        )


@dataclass(frozen=True, slots=True)
class Split:
    rep_id: str
    share: Decimal


@dataclass(frozen=True, slots=True)
class TransactionData:
    id: str
    rep_id: str
    type: str | None
    amount: Decimal
    currency: str
    date: date
    state: str | None
    splits: tuple[Split, ...] | None
    fields: dict[str, Any]

    @property
    def credited_reps(self) -> list[str]:
        return [s.rep_id for s in self.splits] if self.splits else [self.rep_id]


@dataclass(frozen=True, slots=True)
class RepData:
    id: str
    name: str
    email: str | None
    manager_id: str | None
    hire_date: date | None
    end_date: date | None
    locale: str | None
    country: str | None
    present: frozenset[str] = field(default_factory=frozenset)  # keys the event carried


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    occurred_at: datetime | None
    record_id: str
    version: int | None
    transaction: TransactionData | None = None
    rep: RepData | None = None

    @property
    def referenced_reps(self) -> list[str]:
        if self.transaction is not None:
            return list(dict.fromkeys([self.transaction.rep_id, *self.transaction.credited_reps]))
        if self.rep is not None and self.rep.manager_id:
            return [self.rep.manager_id]
        return []


def event_id_of(raw: Any) -> str | None:
    """The event's id if it has a usable one (for a rejection's report)."""
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("id"), str)
        and 0 < len(raw["id"]) <= 200
        and not unstorable_text(raw["id"])
    ):
        return str(raw["id"])
    return None


def parse_event(raw: Any, *, known_reps: Callable[[str], bool] | None = None) -> Event:
    """A validated event, or InvalidEvent naming the field. ``known_reps(crm_id)`` says
    whether a rep exists (or arrives earlier in the same batch); None skips that check."""
    if not isinstance(raw, dict):
        raise InvalidEvent("must be an object", field="event")
    bad = _unstorable_path(raw, "")
    if bad is not None:
        raise InvalidEvent(
            "contains a NUL character or invalid Unicode (a lone surrogate)", field=bad[:200]
        )
    event_id = _text(raw, "id", required=True, limit=200)
    assert event_id is not None
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        raise InvalidEvent(f"{quoted(kind)} is not one of {', '.join(EVENT_TYPES)}", field="type")
    occurred = raw.get("occurred_at")
    occurred_at = None
    if occurred is not None:
        if not isinstance(occurred, str):
            raise InvalidEvent("must be an ISO 8601 date-time string", field="occurred_at")
        try:
            if not _DATE_TIME.fullmatch(occurred):
                raise ValueError
            occurred_at = datetime.fromisoformat(occurred)
        except ValueError:
            raise InvalidEvent(
                f"{quoted(occurred)} is not an ISO 8601 date-time", field="occurred_at"
            ) from None
    data = raw.get("data")
    if not isinstance(data, dict):
        raise InvalidEvent("must be an object", field="data")
    record_id = _text(data, "id", required=True, limit=200, prefix="data.")
    assert record_id is not None
    version = data.get("version")
    if version is not None and (
        isinstance(version, bool)
        or not isinstance(version, int)
        or version < 0
        or version > MAX_VERSION
    ):
        raise InvalidEvent(f"must be a whole number from 0 to {MAX_VERSION}", field="data.version")
    event = Event(
        id=event_id, type=kind, occurred_at=occurred_at, record_id=record_id, version=version
    )
    if kind == TRANSACTION_UPSERTED:
        event = Event(**{**_fields(event), "transaction": _transaction(data)})
    elif kind == REP_UPSERTED:
        event = Event(**{**_fields(event), "rep": _rep(data)})
    if known_reps is not None:
        for position, rep_id in _rep_references(event):
            if not known_reps(rep_id):
                raise UnknownRep(f"unknown rep {quoted(rep_id)}", field=position)
    return event


def _fields(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "record_id": event.record_id,
        "version": event.version,
    }


def _rep_references(event: Event) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    t = event.transaction
    if t is not None:
        refs.append(("data.rep_id", t.rep_id))
        for i, s in enumerate(t.splits or ()):
            refs.append((f"data.splits[{i}].rep_id", s.rep_id))
    r = event.rep
    if r is not None and r.manager_id and r.manager_id != r.id:
        refs.append(("data.manager_id", r.manager_id))
    return refs


def _text(
    data: dict[str, Any], key: str, *, required: bool = False, limit: int = 200, prefix: str = ""
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidEvent("is required", field=prefix + key)
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"must be a string, not {_json_type(value)}", field=prefix + key)
    if required and not value.strip():
        raise InvalidEvent("must not be empty", field=prefix + key)
    if len(value) > limit:
        raise InvalidEvent(f"is longer than {limit} characters", field=prefix + key)
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _decimal(value: Any, name: str) -> Decimal:
    """A decimal from a string or an exact JSON number; never a float, never a boolean."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise InvalidEvent('must be a decimal number (a string such as "40000.00")', field=name)
    if not isinstance(value, int | Decimal | str):
        raise InvalidEvent(f"must be a decimal number, not {_json_type(value)}", field=name)
    try:
        return parse_decimal(value, field=name, exponent=True, what="decimal number")
    except InvalidInput as exc:
        raise InvalidEvent(exc.message, field=name) from None


def _date(value: Any, name: str, *, required: bool) -> date | None:
    if value is None:
        if required:
            raise InvalidEvent("is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"must be a YYYY-MM-DD string, not {_json_type(value)}", field=name)
    try:
        return parse_date(value, field=name)
    except InvalidInput as exc:
        raise InvalidEvent(exc.message, field=name) from None


def _transaction(data: dict[str, Any]) -> TransactionData:
    allowed = {
        "id",
        "rep_id",
        "type",
        "amount",
        "currency",
        "date",
        "state",
        "version",
        "splits",
        "fields",
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidEvent(
            f"unknown key {quoted(unknown[0])} (extra fields go in data.fields)",
            field=f"data.{unknown[0][:80]}",
        )
    rep_id = _text(data, "rep_id", required=True, prefix="data.")
    assert rep_id is not None
    if "amount" not in data:
        raise InvalidEvent("is required", field="data.amount")
    amount = _decimal(data["amount"], "data.amount")
    currency = data.get("currency")
    if currency is None:
        raise InvalidEvent("is required", field="data.currency")
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidEvent(not_a_currency(currency), field="data.currency")
    day = _date(data.get("date"), "data.date", required=True)
    assert day is not None
    splits = _splits(data.get("splits"))
    extra = data.get("fields")
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise InvalidEvent(f"must be an object, not {_json_type(extra)}", field="data.fields")
    for key, value in extra.items():
        if isinstance(value, dict | list):
            raise InvalidEvent(
                "must be a string, number, boolean or null", field=f"data.fields.{key}"
            )
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            _field_number(Decimal(value), f"data.fields.{key}")
    if own := sorted(OWN_FIELD_NAMES & extra.keys()):
        raise InvalidEvent(_own_name(own[0]), field=f"data.fields.{own[0]}")
    record_id = str(data["id"])
    kind = _text(data, "type", limit=100, prefix="data.")
    state = _text(data, "state", limit=100, prefix="data.")
    if problem := fields_problem(extra, beside=(record_id, kind, state)):
        key, message = problem
        raise InvalidEvent(message, field="data.fields" if key is None else f"data.fields.{key}")
    return TransactionData(
        id=record_id,
        rep_id=rep_id,
        type=kind,
        amount=amount,
        currency=currency,
        date=day,
        state=state,
        splits=splits,
        fields=dict(extra),
    )


def _own_name(key: str) -> str:
    if key == "amount_original":
        what = "the amount before conversion, which Podium derives"
    else:
        what = f"data.{key}"
    return (
        f"is a name of the transaction's own fields: plan expressions read {what} under "
        "it, never this field; give it another name"
    )


def _field_number(number: Decimal, name: str) -> None:
    """A number PostgreSQL's JSONB keeps exactly (it refuses 1e999999, which Python parses)."""
    try:
        check_decimal(number, field=name, integer_digits=FIELD_DIGITS, decimals=FIELD_DIGITS)
    except InvalidInput as exc:
        raise InvalidEvent(exc.message, field=name) from None


def _splits(value: Any) -> tuple[Split, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidEvent(f"must be a list, not {_json_type(value)}", field="data.splits")
    if not value:
        return None
    out: list[Split] = []
    for i, item in enumerate(value):
        name = f"data.splits[{i}]"
        if not isinstance(item, dict):
            raise InvalidEvent("must be an object with rep_id and share", field=name)
        rep_id = _text(item, "rep_id", required=True, prefix=name + ".")
        assert rep_id is not None
        if "share" not in item:
            raise InvalidEvent("is required", field=f"{name}.share")
        share = _decimal(item["share"], f"{name}.share")
        if not Decimal(0) < share <= ONE:
            raise InvalidEvent(f"{share} is not in (0, 1]", field=f"{name}.share")
        out.append(Split(rep_id, share))
    if len({s.rep_id for s in out}) != len(out):
        raise InvalidEvent("a rep appears twice", field="data.splits")
    total = sum((s.share for s in out), Decimal(0))
    if total != ONE:
        raise InvalidEvent(f"shares add up to {total}, not 1", field="data.splits")
    return tuple(out)


def _rep(data: dict[str, Any]) -> RepData:
    allowed = {
        "id",
        "name",
        "email",
        "manager_id",
        "hire_date",
        "end_date",
        "locale",
        "country",
        "version",
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidEvent(f"unknown key {quoted(unknown[0])}", field=f"data.{unknown[0][:80]}")
    rep_id = str(data["id"])
    hire = _date(data.get("hire_date"), "data.hire_date", required=False)
    end = _date(data.get("end_date"), "data.end_date", required=False)
    if hire and end and end < hire:
        raise InvalidEvent(f"{end} is before hire_date {hire}", field="data.end_date")
    country = _text(data, "country", limit=2, prefix="data.")
    if country is not None and (
        len(country) != 2 or not country.isascii() or not country.isalpha()
    ):
        raise InvalidEvent(
            f"{quoted(country)} is not a 2-letter country code", field="data.country"
        )
    manager = _text(data, "manager_id", prefix="data.")
    if manager == rep_id:
        raise InvalidEvent("a rep cannot manage themselves", field="data.manager_id")
    name = _text(data, "name", prefix="data.")
    if name is not None and (problem := name_problem(name)):
        raise InvalidEvent(problem, field="data.name")
    return RepData(
        id=rep_id,
        name=name or rep_id,
        email=_text(data, "email", limit=320, prefix="data."),
        manager_id=manager or None,
        hire_date=hire,
        end_date=end,
        locale=_text(data, "locale", limit=35, prefix="data."),
        country=country.upper() if country else None,
        present=frozenset(data),
    )
