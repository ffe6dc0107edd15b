"""Payout providers: sealed credentials per tenant and verified webhook events (`tortoise makemigrations`)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from enum import StrEnum


class Provider(StrEnum):
    # a copy of payments.methods.models.Provider: domain imports no outer layer
    STRIPE = "stripe"
    GIFT_CARDS = "gift_cards"


class Migration(migrations.Migration):
    dependencies = [('podium', '0040_payout_details')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ProviderConfig',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='payout_providers', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharEnumField(description='STRIPE: stripe\nGIFT_CARDS: gift_cards', enum_type=Provider, max_length=20)),
                ('masked_key', fields.CharField(max_length=80)),
                ('sealed', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_provider_configs', 'app': 'podium', 'unique_together': (('tenant', 'provider'),), 'pk_attr': 'id', 'table_description': "A tenant's credentials at a provider (API key, webhook secrets), sealed like payout"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProviderEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='payout_provider_events', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharEnumField(description='STRIPE: stripe\nGIFT_CARDS: gift_cards', enum_type=Provider, max_length=20)),
                ('event_id', fields.CharField(max_length=255)),
                ('kind', fields.CharField(max_length=100)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_provider_events', 'app': 'podium', 'unique_together': (('tenant', 'provider', 'event_id'),), 'pk_attr': 'id', 'table_description': "A provider's webhook event, stored raw once verified (a redelivery finds it and adds"},
            bases=['Model'],
        ),
    ]
