"""Statements, their lines, adjustments and disputes; the dispute notification kinds (issue 15;
`tortoise makemigrations`, then one current version per payee, period and currency)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.notifications.models import NotificationKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('podium', '0020_notification_kinds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Adjustment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='adjustments', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='adjustments', on_delete=OnDelete.RESTRICT)),
                ('period', fields.CharField(max_length=10)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('currency', fields.CharField(max_length=3)),
                ('reason', fields.CharField(max_length=500)),
                ('created_by', fields.UUIDField(null=True)),
                ('created_by_label', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'adjustments', 'app': 'podium', 'indexes': [Index(fields=['tenant_id', 'user_id', 'period'])], 'pk_attr': 'id', 'table_description': 'A manual amount for a payee and period (amount, currency, reason, who): audited, and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Statement',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='statements', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='statements', on_delete=OnDelete.RESTRICT)),
                ('period', fields.CharField(max_length=10)),
                ('currency', fields.CharField(max_length=3)),
                ('version', fields.IntField(default=1)),
                ('current', fields.BooleanField(default=True)),
                ('status', fields.CharField(default='draft', max_length=10)),
                ('total', fields.DecimalField(default=0, max_digits=20, decimal_places=6)),
                ('plan_versions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('inputs_hash', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.UUIDField(null=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'statements', 'app': 'podium', 'unique_together': (('tenant', 'user', 'period', 'currency', 'version'),), 'indexes': [Index(fields=['tenant_id', 'period', 'current'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Dispute',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('statement', fields.ForeignKeyField('podium.Statement', source_field='statement_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('line_id', fields.BigIntField(null=True)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.RESTRICT)),
                ('period', fields.CharField(max_length=10)),
                ('assignee_id', fields.UUIDField(null=True)),
                ('status', fields.CharField(default='open', max_length=10)),
                ('message', fields.TextField(unique=False)),
                ('resolution', fields.TextField(null=True, unique=False)),
                ('adjustment_id', fields.UUIDField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.UUIDField(null=True)),
            ],
            options={'table': 'disputes', 'app': 'podium', 'indexes': [Index(fields=['tenant_id', 'user_id', 'period', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisputeComment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dispute', fields.ForeignKeyField('podium.Dispute', source_field='dispute_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('author_id', fields.UUIDField(null=True)),
                ('author_label', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dispute_comments', 'app': 'podium', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatementLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('statement', fields.ForeignKeyField('podium.Statement', source_field='statement_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('tenant_id', fields.UUIDField()),
                ('position', fields.IntField()),
                ('kind', fields.CharField(max_length=20)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('source', fields.CharField(max_length=300)),
                ('original_period', fields.CharField(null=True, max_length=10)),
                ('original_line_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'statement_lines', 'app': 'podium', 'indexes': [Index(fields=['statement_id', 'position']), Index(fields=['tenant_id', 'original_period'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nDISPUTE_RAISED: dispute_raised\nDISPUTE_RESOLVED: dispute_resolved', enum_type=NotificationKind, max_length=20),
        ),
        ops.AlterField(
            model_name='NotificationSent',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nDISPUTE_RAISED: dispute_raised\nDISPUTE_RESOLVED: dispute_resolved', enum_type=NotificationKind, max_length=20),
        ),
        ops.RunSQL(
            [
                'CREATE UNIQUE INDEX IF NOT EXISTS "statements_one_current" ON "statements" '
                "(tenant_id, user_id, period, currency) WHERE current",
                'ALTER TABLE "statements" ADD CONSTRAINT "statements_status" '
                "CHECK (status IN ('draft', 'approved', 'paid'))",
                'ALTER TABLE "disputes" ADD CONSTRAINT "disputes_status" '
                "CHECK (status IN ('open', 'accepted', 'rejected'))",
            ],
            reverse_sql=[
                'ALTER TABLE "disputes" DROP CONSTRAINT IF EXISTS "disputes_status"',
                'ALTER TABLE "statements" DROP CONSTRAINT IF EXISTS "statements_status"',
                'DROP INDEX IF EXISTS "statements_one_current"',
            ],
        ),
    ]
