"""Badge definitions per tenant and their awards (one per rule, person and period)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class BadgeDefinition(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="badge_definitions", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    name = fields.CharField(max_length=100)
    description = fields.CharField(max_length=500, default="")
    icon = fields.CharField(max_length=100, default="")
    # an expression of the plan language over the facts of `gamification.badges.facts`;
    # empty: awarded only through `award_badge` (a contest prize)
    rule = fields.TextField(default="")
    xp = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "badge_definitions"
        unique_together = (("tenant", "name"),)


class BadgeAward(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="badge_awards", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    badge: fields.ForeignKeyRelation[BadgeDefinition] = fields.ForeignKeyField(
        "podium.BadgeDefinition", related_name="awards", on_delete=fields.CASCADE
    )
    badge_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="badge_awards", on_delete=fields.CASCADE
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    # what earned it ("rule:<period>", "contest:<id>:<place>", ...): awarding is idempotent on it
    source = fields.CharField(max_length=200)
    awarded_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    # this award's index in the tenant's revocation status list (W3C Bitstring Status List)
    status_index = fields.IntField()

    class Meta:
        table = "badge_awards"
        # once per badge, person and period, and per source, among the awards that stand:
        # partial unique indexes (migration 0059), so a revoked award can be earned anew
        unique_together = (("tenant", "status_index"),)


class BadgeIssuer(Model):
    """The tenant's Open Badges issuer key (Ed25519). The private key is stored encrypted
    (AES-GCM under a key from the environment) and never leaves `credentials`."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.OneToOneRelation[Tenant] = fields.OneToOneField(
        "podium.Tenant", related_name="badge_issuer", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    public_key = fields.CharField(max_length=100)  # raw, base64url
    private_key_encrypted = fields.CharField(max_length=200)  # nonce + ciphertext, base64url
    created_at = fields.DatetimeField()

    class Meta:
        table = "badge_issuers"
