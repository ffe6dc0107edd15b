"""Contests, rewards and the contest notification kinds (issue 14; `tortoise makemigrations`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.notifications.models import NotificationKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class ContestStatus(StrEnum):
    # a copy of gamification.contests.models.ContestStatus: domain imports no outer layer
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    AWARDED = "awarded"

class Migration(migrations.Migration):
    dependencies = [('podium', '0018_badges_and_levels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Contest',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='contests', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('metric', fields.CharField(max_length=120)),
                ('format', fields.CharField(max_length=10)),
                ('tie_rule', fields.CharField(max_length=10)),
                ('target', fields.DecimalField(null=True, max_digits=20, decimal_places=6)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=ContestStatus.DRAFT, description='DRAFT: draft\nSCHEDULED: scheduled\nLIVE: live\nENDED: ended\nAWARDED: awarded', enum_type=ContestStatus, max_length=10)),
                ('hidden', fields.BooleanField(default=False)),
                ('manager_id', fields.UUIDField(null=True)),
                ('participant_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('prizes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('results', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('notified', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by_label', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('awarded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contests', 'app': 'podium', 'indexes': [Index(fields=['tenant_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reward',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.RESTRICT)),
                ('period', fields.CharField(max_length=10)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('currency', fields.CharField(max_length=3)),
                ('source_kind', fields.CharField(max_length=30)),
                ('source_id', fields.CharField(max_length=200)),
                ('reason', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rewards', 'app': 'podium', 'unique_together': (('tenant', 'source_kind', 'source_id', 'user'),), 'indexes': [Index(fields=['tenant_id', 'user_id', 'period'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won', enum_type=NotificationKind, max_length=20),
        ),
        ops.AlterField(
            model_name='NotificationSent',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won', enum_type=NotificationKind, max_length=20),
        ),
    ]
