"""Draws on plan assignments and their ledger (issue 15; `tortoise makemigrations`, then the
checks on kinds, shares and amounts)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0021_statements')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Draw',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='draws', on_delete=OnDelete.CASCADE)),
                ('assignment', fields.ForeignKeyField('podium.PlanAssignment', source_field='assignment_id', db_constraint=True, to_field='id', related_name='draws', on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='draws', on_delete=OnDelete.RESTRICT)),
                ('currency', fields.CharField(max_length=3)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('recoverable', fields.BooleanField()),
                ('recovery_share', fields.DecimalField(default=1, max_digits=7, decimal_places=6)),
                ('on_termination', fields.CharField(default='forgive', max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'draws', 'app': 'podium', 'unique_together': (('tenant', 'assignment'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DrawEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('draw', fields.ForeignKeyField('podium.Draw', source_field='draw_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.CASCADE)),
                ('tenant_id', fields.UUIDField()),
                ('period', fields.CharField(max_length=10)),
                ('kind', fields.CharField(max_length=10)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('statement_id', fields.UUIDField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'draw_entries', 'app': 'podium', 'unique_together': (('draw', 'period', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunSQL(
            [
                'ALTER TABLE "draws" ADD CONSTRAINT "draws_terms" CHECK (amount > 0 AND '
                "recovery_share >= 0 AND recovery_share <= 1 AND "
                "on_termination IN ('forgive', 'keep'))",
                'ALTER TABLE "draw_entries" ADD CONSTRAINT "draw_entries_kind" CHECK (amount >= 0 '
                "AND kind IN ('advance', 'recovery', 'forgiven'))",
            ],
            reverse_sql=[
                'ALTER TABLE "draw_entries" DROP CONSTRAINT IF EXISTS "draw_entries_kind"',
                'ALTER TABLE "draws" DROP CONSTRAINT IF EXISTS "draws_terms"',
            ],
        ),
    ]
