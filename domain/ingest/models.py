"""Inbox events, dead letters, CRM record versions, recompute requests and field mappings."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class InboxStatus(StrEnum):
    PENDING = "pending"  # committed, not applied yet
    APPLIED = "applied"
    STALE = "stale"  # older than the stored version of its record: recorded, not applied
    DEAD = "dead"  # could not be applied: moved to the dead letters


class InboxEvent(Model):
    """One accepted CRM event, normalised to the generic shape (CRM_EVENTS.md), stored before
    the webhook answers 202. ``body`` is its exact JSON text (decimals never pass through
    float); the worker applies it by id."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="inbox_events", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    event_id = fields.CharField(max_length=200)  # the sender's id: the dedupe key
    source = fields.CharField(max_length=30)  # crm | salesforce_cdc | salesforce_outbound | ...
    type = fields.CharField(max_length=50)
    record_id = fields.CharField(max_length=200)
    version = fields.BigIntField(null=True)
    body = fields.TextField()
    status = fields.CharEnumField(InboxStatus, max_length=10, default=InboxStatus.PENDING)
    outcome = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    received_at = fields.DatetimeField(auto_now_add=True)
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inbox_events"
        unique_together = (("tenant", "event_id"),)
        indexes = (("status", "received_at"),)


class DeadLetterStatus(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"  # replayed and accepted
    DISCARDED = "discarded"  # given up by ops (podium discard-dead-letters): never replayed


class DeadLetter(Model):
    """An event that could not be accepted or applied, with the reason, kept for ops to list
    and replay (``podium replay-dead-letters``)."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="dead_letters", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    source = fields.CharField(max_length=30)
    event_id = fields.CharField(max_length=200, null=True)
    position = fields.IntField(null=True)  # index in the received batch
    reason = fields.TextField()
    field = fields.CharField(max_length=200, null=True)
    body = fields.TextField()  # the event as received (JSON text), replayed as is
    status = fields.CharEnumField(DeadLetterStatus, max_length=10, default=DeadLetterStatus.OPEN)
    replays = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    replayed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dead_letters"
        indexes = (("tenant_id", "status"),)


class CrmRecordVersion(Model):
    """The newest version seen of a CRM record (a transaction or a rep), deletes included, so
    an older upsert arriving after a delete of a record never seen is still ignored."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="crm_record_versions", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    kind = fields.CharField(max_length=20)  # transaction | rep
    external_id = fields.CharField(max_length=200)
    version = fields.BigIntField()
    deleted = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "crm_record_versions"
        unique_together = (("tenant", "kind", "external_id"),)


class RecomputeRequest(Model):
    """A (rep, period) whose earnings must be recomputed, written in the same transaction as
    the change that made it stale. ``generation`` grows with every new request for the same
    row, so a recompute deletes the row only if nothing newer arrived while it ran."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="recompute_requests", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="recompute_requests", on_delete=fields.CASCADE
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    generation = fields.BigIntField(default=1)
    requested_at = fields.DatetimeField()
    # Failed recomputes of this request (not deadlocks: those retry at once); the last one's
    # error; and when it was parked: failed on its data, or MAX_FAILURES times otherwise. A
    # parked request is not taken nor swept again until a change to the person's data
    # requests the recompute anew (which clears all three), or a recompute of the pair by
    # `podium recompute` succeeds (which ends it).
    attempts = fields.SmallIntField(default=0)
    error = fields.TextField(null=True)
    parked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recompute_requests"
        unique_together = (("tenant", "user", "period"),)
        indexes = (("requested_at",),)


class FieldMapping(Model):
    """Which CRM field holds each Podium transaction field, per tenant and source
    (``salesforce`` or ``hubspot``); defaults in ``domain.ingest.mapping``."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="field_mappings", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    source = fields.CharField(max_length=30)
    mapping: dict[str, Any] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "crm_field_mappings"
        unique_together = (("tenant", "source"),)
