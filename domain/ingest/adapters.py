"""Salesforce (Change Data Capture, Outbound Messages) and HubSpot payloads, translated into
generic CRM events (CRM_EVENTS.md) with the tenant's field mapping. No I/O here: the current
state of each record (``bases``) is looked up by the caller.

A CRM that sends only what changed (a CDC UPDATE, a HubSpot property change) is laid over the
record as Podium last knew it, so every generic transaction.upserted carries the whole record.
A change Podium cannot place (a CDC GAP event, an update of a record never seen) becomes an
invalid event with its reason: a dead letter, while the rest of the batch is accepted.

Every CRM field the mapping does not read goes into the event's ``data.fields`` (for plan
filters; one named like the transaction's own ``amount``, ``type``, ... as ``crm_amount``,
``crm_type``: `_rename_own_names`), except the fields of the mapping's ``ignore`` list, and
a field intake would refuse for its size (a 3,000-character Description): that one is left
out, said in ``Translated.left_out``, and the deal still counts. A mapped field too long is
refused with the event, as in the generic webhook, whose sender chooses its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from domain.ingest.errors import InvalidEnvelope, InvalidEvent, TooManyEvents
from domain.ingest.events import (
    OWN_FIELD_NAMES,
    REP_UPSERTED,
    TRANSACTION_DELETED,
    TRANSACTION_UPSERTED,
    check_event_count,
)
from domain.kit.documents import field_problem, fields_problem
from domain.kit.errors import quoted
from domain.kit.periods import LAST_YEAR

# Salesforce bookkeeping fields, not useful to plan expressions
_SYSTEM_FIELDS = {
    "ChangeEventHeader", "Id", "CreatedDate", "CreatedById", "LastModifiedDate",
    "LastModifiedById", "SystemModstamp", "IsDeleted", "LastActivityDate", "LastViewedDate",
    "LastReferencedDate", "attributes",
}  # fmt: skip
_ROLES = ("amount", "date", "state", "owner", "type", "currency")
# an unmapped CRM field named like one of the transaction's own goes in data.fields as this
# prefix and its name (`_rename_own_names`)
RENAMED_PREFIX = "crm_"
# the mapping keys naming a CRM field of the transaction object: a field one of them names is
# never left out of an event (nor ignored); "name" and "close_date" stay in its fields
MAPPED_KEYS = (*_ROLES, "close_date", "name")

Bases = dict[str, dict[str, Any] | None]


@dataclass(slots=True)
class Translated:
    """Generic events in order; ``invalid[i]`` marks event ``i`` as rejected for that reason
    (``events[i]`` then holds what was received, kept as the dead letter's body);
    ``left_out[i]`` names the unmapped CRM fields left out of event ``i``'s ``data.fields``
    for their size, each with its size against the limit."""

    events: list[Any] = field(default_factory=list)
    invalid: dict[int, InvalidEvent] = field(default_factory=dict)
    left_out: dict[int, dict[str, str]] = field(default_factory=dict)

    def reject(self, raw: Any, error: InvalidEvent) -> None:
        self.invalid[len(self.events)] = error
        self.events.append(raw)

    def upsert(self, event: Any, left_out: dict[str, str]) -> None:
        """Add a transaction event whose ``data.fields`` lack the ``left_out`` fields."""
        if left_out:
            self.left_out[len(self.events)] = left_out
        self.events.append(event)


def _iso_date(value: Any, name: str) -> Any:
    """A CRM date as YYYY-MM-DD: ISO dates and date-times, or epoch milliseconds (HubSpot).
    Milliseconds out of range are passed on as they came: the event is then rejected."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        stamp = _ms(value)
        return value if stamp is None else stamp.date().isoformat()
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            stamp = _ms(int(text)) if len(text) <= MAX_MS_DIGITS else None
            return text if stamp is None else stamp.date().isoformat()
        return text[:10]
    return value


def overlay(
    base: dict[str, Any] | None,
    changes: dict[str, Any],
    *,
    record_id: str,
    mapping: dict[str, Any],
    currency: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Generic transaction data: ``base`` (or nothing) with the CRM ``changes`` mapped in;
    and the unmapped fields left out of its ``fields`` for their size (name: why)."""
    # a shallow copy: only top-level keys are replaced below, and "fields" is copied anew
    data: dict[str, Any] = dict(base) if base else {"id": record_id}
    data["id"] = record_id
    data.pop("version", None)
    ignored = set(mapping.get("ignore") or ())
    extra = {k: v for k, v in (data.get("fields") or {}).items() if k not in ignored}
    roles = {mapping[r]: r for r in _ROLES if mapping.get(r)}
    states = mapping.get("state_values") or {}
    for crm_field, value in changes.items():
        role = roles.get(crm_field)
        if role == "owner":
            data["rep_id"] = value
        elif role == "amount":
            data["amount"] = value
        elif role == "date":
            data["date"] = _iso_date(value, crm_field)
        elif role == "state":
            data["state"] = states.get(value, value) if isinstance(value, str) else value
        elif role in ("type", "currency"):
            data[role] = value
        elif (
            crm_field not in _SYSTEM_FIELDS
            and crm_field not in ignored
            and not isinstance(value, dict | list)
        ):
            extra[crm_field] = value
    _rename_own_names(extra, changes)
    if not data.get("currency"):
        data["currency"] = mapping.get("default_currency") or currency
    left_out = _leave_out_unstorable(extra, data, mapping)
    data["fields"] = extra
    return data, left_out


def _rename_own_names(extra: dict[str, Any], changes: dict[str, Any]) -> None:
    """Move an unmapped CRM field named like one of the transaction's own fields (HubSpot's
    ``amount`` property when the tenant's amount is another one) to ``crm_<name>``: under
    its own name intake refuses it, as plan expressions read the transaction's ``amount``
    there. One stored before under its own name moves too. InvalidEvent naming it when the
    CRM sends a ``crm_<name>`` field of its own as well: the two cannot share the name."""
    for name in OWN_FIELD_NAMES & extra.keys():
        value = extra.pop(name)
        renamed = RENAMED_PREFIX + name
        if renamed in changes and renamed in extra:
            raise InvalidEvent(
                f"an unmapped CRM field named like the transaction's own {quoted(name)} is kept "
                f"as {quoted(renamed)}, but the record has a {quoted(renamed)} field too: add "
                "one of them to the field mapping's ignore list",
                field=f"data.fields.{name}",
            )
        if name in changes or renamed not in extra:
            extra[renamed] = value


def _leave_out_unstorable(
    extra: dict[str, Any], data: dict[str, Any], mapping: dict[str, Any]
) -> dict[str, str]:
    """Remove from ``extra`` the unmapped fields intake would refuse whatever the others (a
    text over the length a field may hold, or one too big to be stored beside the id, type
    and state); return them, each with why. Fields a mapping key names stay: refused with
    the event, naming them."""
    beside = [
        v for v in (data.get("id"), data.get("type"), data.get("state")) if isinstance(v, str)
    ]
    if fields_problem(extra, beside=beside) is None:
        return {}  # the usual case: one pass over the fields
    mapped = {mapping[k] for k in MAPPED_KEYS if mapping.get(k)}
    left_out: dict[str, str] = {}
    for name, value in list(extra.items()):
        if name in mapped:
            continue
        reason = field_problem(name, value, beside=beside)
        if reason is not None:
            left_out[name] = reason
            del extra[name]
    return left_out


def _event(event_id: str, kind: str, occurred: datetime | None, data: dict[str, Any]) -> Any:
    return {
        "id": event_id,
        "type": kind,
        "occurred_at": occurred.isoformat() if occurred else None,
        "data": data,
    }


MAX_MS_DIGITS = 15  # epoch milliseconds up to the year 33658


def _ms(value: Any) -> datetime | None:
    """Epoch milliseconds as a UTC date-time; None for anything else, or out of range (a
    CRM field can hold 10**400, and int() of Decimal("1e999999999") would never finish)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if isinstance(value, Decimal) and (not value.is_finite() or value.adjusted() >= MAX_MS_DIGITS):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return None


# A CRM's change time (a CDC commitTimestamp, a HubSpot occurredAt, a SystemModstamp) makes
# its event's version, which is not negative: from 1970, to the last year Podium accepts.
CHANGE_TIMES = f"from 1970 to {LAST_YEAR}"


def _stamp_ms(value: Any) -> datetime | None:
    """A CRM's change time in epoch milliseconds as a UTC date-time; None unless it is a
    whole number within ``CHANGE_TIMES``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    stamp = _ms(value)
    return stamp if stamp is not None and stamp.year <= LAST_YEAR else None


# --- Salesforce Change Data Capture -----------------------------------------------------------


def cdc_record_ids(messages: list[Any]) -> list[str]:
    ids: list[str] = []
    for m in messages:
        header = _cdc_header(m)
        if header and isinstance(header.get("recordIds"), list):
            ids.extend(str(r) for r in header["recordIds"])
    return ids


def _cdc_parts(message: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """A CDC message's ``data``, ``data.payload`` and its ChangeEventHeader, if each is an
    object; None for anything else."""
    data = message.get("data") if isinstance(message, dict) else None
    payload = data.get("payload") if isinstance(data, dict) else None
    header = payload.get("ChangeEventHeader") if isinstance(payload, dict) else None
    if not isinstance(header, dict):
        return None
    assert isinstance(data, dict)
    assert isinstance(payload, dict)
    return data, payload, header


def _cdc_header(message: Any) -> dict[str, Any] | None:
    parts = _cdc_parts(message)
    return parts[2] if parts else None


def cdc_messages(document: Any) -> list[Any]:
    """The CDC messages of a body: one message, a list of them, or ``{"events": [...]}``."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return list(document["events"])
    if isinstance(document, dict) and "data" in document:
        return [document]
    raise InvalidEnvelope('must be a CDC event, a list of them or {"events": [...]}', field="body")


# what the events of one CDC request may come to once each record gets its own event (a
# message lists many records and its fields are copied into each one's event)
MAX_EXPANDED_BYTES = 8 * 1024 * 1024


def check_cdc_size(messages: list[Any]) -> None:
    """TooManyEvents (413) for a request of more than MAX_EVENTS messages or records, or one
    whose records' events would come to more than MAX_EXPANDED_BYTES. Linear in its size."""
    check_event_count(len(messages), "messages")
    records = 0
    expanded = 0
    for message in messages:
        parts = _cdc_parts(message)
        ids = parts[2].get("recordIds") if parts else None
        if parts is None or not isinstance(ids, list):
            continue
        records += len(ids)
        payload = parts[1]
        weight = sum(
            len(str(key)) + (len(value) if isinstance(value, str) else 24)
            for key, value in payload.items()
            if not isinstance(value, dict | list)
        )
        expanded += len(ids) * weight
    check_event_count(records, "records")
    if expanded > MAX_EXPANDED_BYTES:
        raise TooManyEvents(
            f"its records with their fields come to more than {MAX_EXPANDED_BYTES} bytes "
            "once each record has its own event: send fewer records per request",
            field="recordIds",
        )


def _cdc_problem(
    change: Any, commit: Any, sequence: Any, entity: Any, mapping: dict[str, Any]
) -> InvalidEvent | None:
    """Why none of a CDC message's records can be accepted, or None."""
    if not isinstance(change, str) or change.startswith("GAP_"):
        return InvalidEvent(
            f"Salesforce sent {quoted(change)[1:-1] if isinstance(change, str) else quoted(change)}"
            ": the change's fields are not in the event; resync the records",
            field="changeType",
        )
    if _stamp_ms(commit) is None:
        return InvalidEvent(f"must be epoch milliseconds {CHANGE_TIMES}", field="commitTimestamp")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        return InvalidEvent("must be a whole number", field="sequenceNumber")
    if change == "DELETE":
        if entity == mapping.get("rep_object"):
            return InvalidEvent("deleting a rep is not supported", field="changeType")
        return None
    if change not in ("CREATE", "UPDATE", "UNDELETE"):
        return InvalidEvent(f"{quoted(change)} is not a known change type", field="changeType")
    if entity != mapping.get("rep_object") and entity != mapping.get("transaction_object"):
        return InvalidEvent(f"{quoted(entity)} is not a mapped object", field="entityName")
    return None


def _records_id(prefix: str, record_ids: list[str]) -> str:
    """The event id of a rejection that covers several records of one message."""
    if len(record_ids) == 1:
        return f"{prefix}:{record_ids[0]}"
    return f"{prefix}:{record_ids[0]}+{len(record_ids) - 1}"


def translate_cdc(
    messages: list[Any], *, mapping: dict[str, Any], currency: str, bases: Bases
) -> Translated:
    """One event per record of each message. A message refused as a whole (a GAP event, a
    bad header) is ONE rejection holding the message once, and so are the records of a
    message Podium cannot place: the work and the dead letters stay linear in the body."""
    out = Translated()
    current = dict(bases)
    for message in messages:
        parts = _cdc_parts(message)
        if parts is None:
            out.reject(message, InvalidEvent("is required", field="data.payload.ChangeEventHeader"))
            continue
        data, payload, header = parts
        change = header.get("changeType")
        entity = header.get("entityName")
        record_ids = header.get("recordIds")
        event = data.get("event")
        replay = event.get("replayId") if isinstance(event, dict) else None
        key = header.get("transactionKey") or replay
        sequence = header.get("sequenceNumber") or 0
        commit = header.get("commitTimestamp")
        if not isinstance(record_ids, list) or not record_ids:
            out.reject(message, InvalidEvent("must list the changed records", field="recordIds"))
            continue
        ids = [str(r) for r in record_ids]
        prefix = f"sfcdc:{key}:{sequence}"
        problem = _cdc_problem(change, commit, sequence, entity, mapping)
        if problem is not None:
            out.reject({**message, "id": _records_id(prefix, ids)}, problem)
            continue
        assert isinstance(commit, int)  # _cdc_problem checked both
        assert isinstance(sequence, int)
        occurred = _ms(commit)
        version = commit * 1000 + min(sequence, 999)
        changed = header.get("changedFields")
        if change == "UPDATE" and isinstance(changed, list) and changed:
            fields = {f: payload.get(f) for f in changed if isinstance(f, str) and f in payload}
        else:
            fields = {k: v for k, v in payload.items() if v is not None}
        unseen: list[str] = []
        for record_id in ids:
            event_id = f"{prefix}:{record_id}"
            if change == "DELETE":
                out.events.append(
                    _event(
                        event_id,
                        TRANSACTION_DELETED,
                        occurred,
                        {"id": record_id, "version": version},
                    )
                )
                current[record_id] = None
                continue
            if entity == mapping.get("rep_object"):
                out.events.append(
                    _event(
                        event_id,
                        REP_UPSERTED,
                        occurred,
                        _rep_data(record_id, fields, mapping, version),
                    )
                )
                continue
            base = current.get(record_id)
            if change != "CREATE" and base is None:
                unseen.append(record_id)
                continue
            try:
                upserted, left_out = overlay(
                    base, fields, record_id=record_id, mapping=mapping, currency=currency
                )
            except InvalidEvent as exc:
                out.reject({**message, "id": event_id}, exc)
                continue
            current[record_id] = upserted
            out.upsert(
                _event(event_id, TRANSACTION_UPSERTED, occurred, {**upserted, "version": version}),
                left_out,
            )
        if unseen:
            header_of_unseen = {**header, "recordIds": unseen}
            raw = {
                **message,
                "data": {**data, "payload": {**payload, "ChangeEventHeader": header_of_unseen}},
                "id": _records_id(prefix, unseen),
            }
            if len(unseen) == 1:
                reason = (
                    f"{change} of {quoted(unseen[0])[1:-1]}, a record Podium has never seen: "
                    "its other fields are unknown; resync the record"
                )
            else:
                reason = (
                    f"{change} of {len(unseen)} records Podium has never seen "
                    f"({quoted(unseen)}): their other fields are unknown; resync them"
                )
            out.reject(raw, InvalidEvent(reason, field="recordIds"))
    return out


def _rep_data(
    record_id: str, fields: dict[str, Any], mapping: dict[str, Any], version: int
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": record_id, "version": version}
    for key, role in (
        ("name", "rep_name"),
        ("email", "rep_email"),
        ("manager_id", "rep_manager"),
        ("country", "rep_country"),
        ("locale", "rep_locale"),
    ):
        crm_field = mapping.get(role)
        if crm_field and crm_field in fields:
            value = fields[crm_field]
            if key == "locale" and isinstance(value, str):
                value = value.replace("_", "-")
            data[key] = value
    return data


# --- Salesforce Outbound Messages ---------------------------------------------------------------

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    object_type: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    organization_id: str
    notifications: list[Notification]


def parse_outbound(body: bytes) -> OutboundMessage:
    """The SOAP ``notifications`` of an Outbound Message; InvalidEnvelope if it is not one.
    A document with a DTD, an entity or an external reference is refused, whatever encoding
    it declares (defusedxml: a UTF-16 document once passed a byte search for "<!DOCTYPE" and
    its internal entities expanded)."""
    try:
        root = parse_xml(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InvalidEnvelope("DTDs and entities are not accepted", field="body") from None
    except (ParseError, LookupError, ValueError) as exc:  # LookupError: an unknown encoding
        raise InvalidEnvelope(f"malformed XML: {quoted(str(exc))[1:-1]}", field="body") from None
    node = root.find(f"{{{SOAP}}}Body/{{{OUTBOUND}}}notifications")
    if node is None:
        raise InvalidEnvelope("no SOAP Body/notifications element", field="notifications")
    org = (node.findtext(f"{{{OUTBOUND}}}OrganizationId") or "").strip()
    if not org:
        raise InvalidEnvelope("is required", field="OrganizationId")
    items = node.findall(f"{{{OUTBOUND}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise TooManyEvents(
            f"{len(items)} notifications in one message; at most {MAX_NOTIFICATIONS} are accepted",
            field="Notification",
        )
    notifications = []
    for item in items:
        notification_id = (item.findtext(f"{{{OUTBOUND}}}Id") or "").strip()
        sobject = item.find(f"{{{OUTBOUND}}}sObject")
        fields: dict[str, Any] = {}
        object_type = ""
        if sobject is not None:
            object_type = (sobject.get(f"{{{XSI}}}type") or "").split(":")[-1]
            for child in sobject:
                name = child.tag.split("}")[-1]
                if child.get(f"{{{XSI}}}nil") == "true":
                    fields[name] = None
                else:
                    fields[name] = (child.text or "").strip()
        notifications.append(Notification(notification_id, object_type, fields))
    return OutboundMessage(org, notifications)


def outbound_record_ids(message: OutboundMessage) -> list[str]:
    return [str(n.fields["Id"]) for n in message.notifications if n.fields.get("Id")]


def translate_outbound(
    message: OutboundMessage, *, mapping: dict[str, Any], currency: str, bases: Bases
) -> Translated:
    out = Translated()
    for n in message.notifications:
        raw = {"id": f"sfob:{n.id}" if n.id else None, "object": n.object_type, "fields": n.fields}
        if not n.id:
            out.reject(raw, InvalidEvent("is required", field="Notification.Id"))
            continue
        record_id = n.fields.get("Id")
        if not record_id:
            out.reject(raw, InvalidEvent("is required", field="sObject.Id"))
            continue
        stamp_field = "SystemModstamp" if n.fields.get("SystemModstamp") else "LastModifiedDate"
        stamp = n.fields.get(stamp_field)
        version = None
        occurred = None
        if stamp:
            try:
                occurred = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                ms = int(occurred.timestamp() * 1000)
            except (ValueError, OverflowError):
                problem = "is not a date-time"
            else:
                version = ms * 1000
                problem = "" if _stamp_ms(ms) else f"is not a time {CHANGE_TIMES}"
            if problem:
                out.reject(
                    raw, InvalidEvent(f"{quoted(stamp)} {problem}", field=f"sObject.{stamp_field}")
                )
                continue
        event_id = str(raw["id"])
        if n.object_type == mapping.get("rep_object"):
            data = _rep_data(str(record_id), n.fields, mapping, version or 0)
            if version is None:
                data.pop("version")
            out.events.append(_event(event_id, REP_UPSERTED, occurred, data))
            continue
        if n.object_type != mapping.get("transaction_object"):
            out.reject(
                raw,
                InvalidEvent(f"{quoted(n.object_type)} is not a mapped object", field="sObject"),
            )
            continue
        # an Outbound Message carries every field the rule selected: overlay them all
        try:
            data, left_out = overlay(
                bases.get(str(record_id)),
                n.fields,
                record_id=str(record_id),
                mapping=mapping,
                currency=currency,
            )
        except InvalidEvent as exc:
            out.reject(raw, exc)
            continue
        if version is not None:
            data["version"] = version
        out.upsert(_event(event_id, TRANSACTION_UPSERTED, occurred, data), left_out)
    return out


# --- HubSpot ------------------------------------------------------------------------------------


def hubspot_record_ids(events: list[Any]) -> list[str]:
    return [str(e["objectId"]) for e in events if isinstance(e, dict) and "objectId" in e]


def translate_hubspot(
    events: list[Any], *, mapping: dict[str, Any], currency: str, bases: Bases
) -> Translated:
    """HubSpot webhook events (``deal.creation``, ``deal.propertyChange``, ``deal.deletion``,
    ``deal.restore``; a ``properties`` object when a relay sends the whole deal)."""
    out = Translated()
    current = dict(bases)
    prefix = str(mapping.get("transaction_object") or "deal")
    for position, e in enumerate(events):
        if not isinstance(e, dict):
            out.reject(e, InvalidEvent("must be an object", field="event"))
            continue
        event_id = f"hs:{e.get('eventId')}" if e.get("eventId") is not None else None
        raw = {**e, "id": event_id}
        if event_id is None:
            out.reject(raw, InvalidEvent("is required", field="eventId"))
            continue
        kind = e.get("subscriptionType")
        record_id = e.get("objectId")
        occurred = e.get("occurredAt")
        if record_id is None or isinstance(record_id, bool):
            out.reject(raw, InvalidEvent("is required", field="objectId"))
            continue
        if not isinstance(occurred, int) or _stamp_ms(occurred) is None:
            out.reject(
                raw, InvalidEvent(f"must be epoch milliseconds {CHANGE_TIMES}", field="occurredAt")
            )
            continue
        record = str(record_id)
        version = occurred * 1000 + position % 1000
        if kind == f"{prefix}.deletion":
            out.events.append(
                _event(
                    event_id, TRANSACTION_DELETED, _ms(occurred), {"id": record, "version": version}
                )
            )
            current[record] = None
            continue
        changes: dict[str, Any] = {}
        if isinstance(e.get("properties"), dict):
            changes.update(e["properties"])
        if kind == f"{prefix}.propertyChange":
            name = e.get("propertyName")
            if not isinstance(name, str):
                out.reject(raw, InvalidEvent("is required", field="propertyName"))
                continue
            changes[name] = e.get("propertyValue")
        elif kind not in (f"{prefix}.creation", f"{prefix}.restore"):
            out.reject(
                raw,
                InvalidEvent(
                    f"{quoted(kind)} is not a supported subscription", field="subscriptionType"
                ),
            )
            continue
        base = current.get(record)
        if base is None and not changes:
            out.reject(
                raw,
                InvalidEvent(
                    f"{kind} of {record} carries no properties and Podium has never seen the "
                    "deal: send its properties (or a property change) to create it",
                    field="properties",
                ),
            )
            continue
        try:
            data, left_out = overlay(
                base, changes, record_id=record, mapping=mapping, currency=currency
            )
        except InvalidEvent as exc:
            out.reject(raw, exc)
            continue
        current[record] = data
        out.upsert(
            _event(event_id, TRANSACTION_UPSERTED, _ms(occurred), {**data, "version": version}),
            left_out,
        )
    return out
