"""Payout details per payee (sealed at rest) and their notification kind (`tortoise makemigrations`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.notifications.models import NotificationKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from enum import StrEnum


class PayoutMethod(StrEnum):
    # a copy of payments.payouts.models.PayoutMethod: domain imports no outer layer
    STRIPE = "stripe"
    SEPA_FILE = "sepa_file"
    NACHA_FILE = "nacha_file"
    CSV_FILE = "csv_file"
    GIFT_CARD = "gift_card"
    PAYROLL_FILE = "payroll_file"


class Migration(migrations.Migration):
    dependencies = [('podium', '0023_partner_invoices')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PayoutDetails',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='payout_details', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('podium.User', source_field='user_id', db_constraint=True, to_field='id', related_name='payout_details', on_delete=OnDelete.CASCADE)),
                ('method', fields.CharEnumField(description='STRIPE: stripe\nSEPA_FILE: sepa_file\nNACHA_FILE: nacha_file\nCSV_FILE: csv_file\nGIFT_CARD: gift_card\nPAYROLL_FILE: payroll_file', enum_type=PayoutMethod, max_length=20)),
                ('masked_account', fields.CharField(max_length=80)),
                ('sealed', fields.TextField(unique=False)),
                ('updated_by', fields.UUIDField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_details', 'app': 'podium', 'unique_together': (('tenant', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nPAYOUT_DETAILS: payout_details', enum_type=NotificationKind, max_length=20),
        ),
        ops.AlterField(
            model_name='NotificationSent',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nPAYOUT_DETAILS: payout_details', enum_type=NotificationKind, max_length=20),
        ),
    ]
