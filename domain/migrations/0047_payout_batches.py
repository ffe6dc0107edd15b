from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


# the models' enums as they are at this migration (the domain layer imports no payments code)
class PayoutMethod(StrEnum):
    STRIPE = "stripe"
    SEPA_FILE = "sepa_file"
    NACHA_FILE = "nacha_file"
    CSV_FILE = "csv_file"
    GIFT_CARD = "gift_card"
    PAYROLL_FILE = "payroll_file"


class BatchStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    EXECUTING = "executing"
    DONE = "done"


class ItemStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"

class Migration(migrations.Migration):
    dependencies = [('podium', '0046_lines_without_result_constraint')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PayoutBatch',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='payout_batches', on_delete=OnDelete.CASCADE)),
                ('period', fields.CharField(max_length=10)),
                ('method', fields.CharEnumField(description='STRIPE: stripe\nSEPA_FILE: sepa_file\nNACHA_FILE: nacha_file\nCSV_FILE: csv_file\nGIFT_CARD: gift_card\nPAYROLL_FILE: payroll_file', enum_type=PayoutMethod, max_length=20)),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(default=BatchStatus.DRAFT, description='DRAFT: draft\nAPPROVED: approved\nEXECUTING: executing\nDONE: done', enum_type=BatchStatus, max_length=12)),
                ('total', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('item_count', fields.IntField()),
                ('created_by', fields.UUIDField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('approved_by', fields.UUIDField(null=True)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('executed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_batches', 'app': 'podium', 'indexes': [Index(fields=['tenant_id', 'period'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayoutItem',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='payout_items', on_delete=OnDelete.CASCADE)),
                ('batch', fields.ForeignKeyField('podium.PayoutBatch', source_field='batch_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('statement', fields.ForeignKeyField('podium.Statement', source_field='statement_id', db_constraint=True, to_field='id', related_name='payout_items', on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='payout_items', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('reference', fields.CharField(max_length=35)),
                ('amount', fields.DecimalField(max_digits=20, decimal_places=6)),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(default=ItemStatus.PENDING, description='PENDING: pending\nSUBMITTED: submitted\nPAID: paid\nFAILED: failed', enum_type=ItemStatus, max_length=10)),
                ('failure_code', fields.CharField(null=True, max_length=60)),
                ('failure_reason', fields.TextField(null=True, unique=False)),
                ('provider_id', fields.CharField(null=True, max_length=255)),
                ('attempts', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_items', 'app': 'podium', 'unique_together': (('tenant', 'reference'),), 'indexes': [Index(fields=['batch_id', 'position']), Index(fields=['statement_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
