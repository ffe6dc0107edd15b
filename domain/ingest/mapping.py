"""Per-tenant field mappings: which CRM field holds each Podium field, per source.

Defaults fit a Salesforce Opportunity (and User) and a HubSpot deal; a tenant overrides any
key (``set_field_mapping``), e.g. a custom ``Commission_Date__c`` as the date, and goes back
to the defaults with ``reset_field_mapping``. ``ignore`` lists CRM fields left out of every
event's ``data.fields`` whatever their size (an unmapped field too large to store is left out
anyway, with a warning: ``domain/ingest/adapters.py``). Only admins (and the system: the
CLI) change a mapping; every change is audited in the caller's transaction
(``podium mapping ...``).
"""

from __future__ import annotations

from typing import Any

from domain.audit.service import record
from domain.ingest.adapters import MAPPED_KEYS
from domain.ingest.models import FieldMapping
from domain.ingest.repository import IngestRepository
from domain.kit.documents import unstorable_path
from domain.kit.errors import Forbidden, InvalidInput, quoted
from domain.kit.money import is_currency
from domain.org.models import Role
from domain.org.viewer import Viewer

SOURCES = ("salesforce", "hubspot")
MAX_FIELD_NAME = 200  # a CRM field's API name (Salesforce's are at most 40 characters)
MAX_IGNORED = 1000  # field names in an ignore list (a Salesforce object has at most 800 custom)

DEFAULTS: dict[str, dict[str, Any]] = {
    "salesforce": {
        "transaction_object": "Opportunity",
        "rep_object": "User",
        "amount": "Amount",
        "date": "CloseDate",
        "close_date": "CloseDate",
        "state": "StageName",
        "owner": "OwnerId",
        "type": "Type",
        "currency": "CurrencyIsoCode",
        "name": "Name",
        "state_values": {"Closed Won": "won", "Closed Lost": "lost"},
        "rep_name": "Name",
        "rep_email": "Email",
        "rep_manager": "ManagerId",
        "rep_country": "Country",
        "rep_locale": "LocaleSidKey",
        "default_currency": None,  # None: the tenant's currency
        "organization_id": None,  # checked on Outbound Messages when set
        "ignore": [],  # CRM fields never put in an event's data.fields
    },
    "hubspot": {
        "transaction_object": "deal",
        "amount": "amount",
        "date": "closedate",
        "close_date": "closedate",
        "state": "dealstage",
        "owner": "hubspot_owner_id",
        "type": "dealtype",
        "currency": "deal_currency_code",
        "name": "dealname",
        "state_values": {"closedwon": "won", "closedlost": "lost"},
        "default_currency": None,
        "ignore": [],
    },
}

_TEXT_KEYS = {
    "transaction_object",
    "rep_object",
    "amount",
    "date",
    "close_date",
    "state",
    "owner",
    "type",
    "currency",
    "name",
    "rep_name",
    "rep_email",
    "rep_manager",
    "rep_country",
    "rep_locale",
    "organization_id",
}


AUDIT_ACTION = "crm_mapping.changed"
AUDIT_ENTITY = "crm_field_mapping"


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise InvalidInput(f"{quoted(source)} is not one of {', '.join(SOURCES)}", field="source")


def _require_admin(viewer: Viewer) -> None:
    """Admins, and the system (``Viewer.system``: the CLI), whose role is admin."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins may change CRM field mappings")


async def field_mapping(*, viewer: Viewer, source: str) -> dict[str, Any]:
    """The tenant's mapping for ``source``: its overrides over the defaults."""
    _check_source(source)
    stored = await IngestRepository(viewer).field_mapping(source) or {}
    return {**DEFAULTS[source], **stored}


async def field_mapping_overrides(*, viewer: Viewer, source: str) -> dict[str, Any] | None:
    """Only the tenant's stored overrides for ``source`` (None: it uses the defaults)."""
    _check_source(source)
    return await IngestRepository(viewer).field_mapping(source)


async def set_field_mapping(
    *, viewer: Viewer, source: str, mapping: dict[str, Any]
) -> dict[str, Any]:
    """Store the tenant's overrides (validated: known keys, text values, a currency code, an
    ignore list of field names the mapping does not read), replacing the ones stored before;
    admins only, audited. Returns the effective mapping."""
    _require_admin(viewer)
    _check_source(source)
    allowed = set(DEFAULTS[source])
    bad = unstorable_path(mapping, "mapping")
    if bad is not None:
        raise InvalidInput(
            "contains a NUL character or invalid Unicode (a lone surrogate)", field=bad[:80]
        )
    for key, value in mapping.items():
        if key not in allowed:
            raise InvalidInput(f"unknown mapping key {quoted(key)}", field=f"mapping.{key[:80]}")
        if (
            key in _TEXT_KEYS
            and value is not None
            and (not isinstance(value, str) or not value or len(value) > MAX_FIELD_NAME)
        ):
            raise InvalidInput(
                f"must be a field name of at most {MAX_FIELD_NAME} characters",
                field=f"mapping.{key}",
            )
        if key == "state_values" and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise InvalidInput("must map CRM values to Podium states", field=f"mapping.{key}")
        if key == "default_currency" and value is not None and not is_currency(value):
            raise InvalidInput(f"{quoted(value)} is not a known currency", field=f"mapping.{key}")
        if key == "ignore":
            _check_ignore(value, {**DEFAULTS[source], **mapping})
    repository = IngestRepository(viewer)
    before = await repository.field_mapping(source)
    overrides = dict(mapping)
    await repository.save_field_mapping(source, overrides)
    await record(
        viewer=viewer,
        action=AUDIT_ACTION,
        entity_type=AUDIT_ENTITY,
        entity_id=source,
        before=before,
        after=overrides,
    )
    return {**DEFAULTS[source], **overrides}


def _check_ignore(value: Any, mapping: dict[str, Any]) -> None:
    """InvalidInput naming ``mapping.ignore`` or its entry unless ``value`` is a list of CRM
    field names, none of them one the (effective) ``mapping`` reads."""
    if not isinstance(value, list):
        raise InvalidInput(
            'must be a list of CRM field names, e.g. ["Description", "NextStep"]',
            field="mapping.ignore",
        )
    if len(value) > MAX_IGNORED:
        raise InvalidInput(f"at most {MAX_IGNORED} field names", field="mapping.ignore")
    mapped = {mapping[k]: k for k in MAPPED_KEYS if isinstance(mapping.get(k), str)}
    for i, name in enumerate(value):
        where = f"mapping.ignore[{i}]"
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_FIELD_NAME:
            raise InvalidInput(
                f"must be a field name of at most {MAX_FIELD_NAME} characters", field=where
            )
        if any(c in name for c in "*?[]"):
            raise InvalidInput(f"{quoted(name)}: field names only, not patterns", field=where)
        if name in mapped:
            raise InvalidInput(
                f"{quoted(name)} is the mapped {mapped[name]} field: it cannot be ignored",
                field=where,
            )


async def reset_field_mapping(*, viewer: Viewer, source: str) -> dict[str, Any]:
    """Drop the tenant's overrides: ``source`` maps with the defaults again. Admins only,
    audited (``after`` is None). Returns the effective mapping (the defaults)."""
    _require_admin(viewer)
    _check_source(source)
    before = await IngestRepository(viewer).field_mapping(source)
    await FieldMapping.filter(tenant_id=viewer.tenant_id, source=source).delete()
    await record(
        viewer=viewer,
        action=AUDIT_ACTION,
        entity_type=AUDIT_ENTITY,
        entity_id=source,
        before=before,
        after=None,
    )
    return dict(DEFAULTS[source])
