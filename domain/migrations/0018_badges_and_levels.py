"""Badges, awards, issuer keys, the XP ledger, levels, streaks and holidays; BADGE and LEVEL
notification kinds (issue 14; `tortoise makemigrations`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.notifications.models import NotificationKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("podium", "0017_leaderboard_groups")]

    initial = False

    operations = [
        ops.CreateModel(
            name="BadgeDefinition",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="badge_definitions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=100)),
                ("description", fields.CharField(default="", max_length=500)),
                ("icon", fields.CharField(default="", max_length=100)),
                ("rule", fields.TextField(default="", unique=False)),
                ("xp", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "badge_definitions",
                "app": "podium",
                "unique_together": (("tenant", "name"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="BadgeAward",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="badge_awards",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "badge",
                    fields.ForeignKeyField(
                        "podium.BadgeDefinition",
                        source_field="badge_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="awards",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "podium.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="badge_awards",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("period", fields.CharField(max_length=10)),
                ("source", fields.CharField(max_length=200)),
                ("awarded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("status_index", fields.IntField()),
            ],
            options={
                "table": "badge_awards",
                "app": "podium",
                "unique_together": (
                    ("tenant", "user", "badge", "period"),
                    ("tenant", "user", "source"),
                    ("tenant", "status_index"),
                ),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="BadgeIssuer",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.OneToOneField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="badge_issuer",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("public_key", fields.CharField(max_length=100)),
                ("private_key_encrypted", fields.CharField(max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "badge_issuers",
                "app": "podium",
                "pk_attr": "id",
                "table_description": "The tenant's Open Badges issuer key (Ed25519). The private key is stored encrypted",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Holiday",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="holidays",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("day", fields.DateField()),
                ("name", fields.CharField(default="", max_length=100)),
            ],
            options={
                "table": "holidays",
                "app": "podium",
                "unique_together": (("tenant", "day"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="LevelDefinition",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="levels",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("number", fields.IntField()),
                ("name", fields.CharField(max_length=100)),
                ("xp_required", fields.IntField()),
                ("reward", fields.CharField(default="", max_length=200)),
            ],
            options={
                "table": "level_definitions",
                "app": "podium",
                "unique_together": (("tenant", "number"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="StreakDefinition",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="streaks",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=100)),
                ("rule", fields.TextField(unique=False)),
                ("unit", fields.CharField(max_length=10)),
                ("period_kind", fields.CharField(default="month", max_length=10)),
            ],
            options={
                "table": "streak_definitions",
                "app": "podium",
                "unique_together": (("tenant", "name"),),
                "pk_attr": "id",
                "table_description": "A streak: consecutive units meeting ``rule``. ``unit`` is ``period`` (the rule reads a",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="XpEntry",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "podium.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="xp_entries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "podium.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="xp_entries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("source", fields.CharField(max_length=220)),
                ("points", fields.IntField()),
                ("reason", fields.CharField(max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "xp_entries",
                "app": "podium",
                "unique_together": (("tenant", "user", "source"),),
                "indexes": [Index(fields=["tenant_id", "user_id", "created_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="Notification",
            name="kind",
            field=fields.CharEnumField(
                description="ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level",
                enum_type=NotificationKind,
                max_length=20,
            ),
        ),
        ops.AlterField(
            model_name="NotificationSent",
            name="kind",
            field=fields.CharEnumField(
                description="ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level",
                enum_type=NotificationKind,
                max_length=20,
            ),
        ),
    ]
