"""Payout items are found by their provider's order id (`apply_gift_card_event`: a gift card
webhook names the order, not the item) through an index of (tenant, provider id), not by
reading every item of the tenant."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('podium', '0054_payout_items_settled')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='PayoutItem',
            index=Index(fields=['tenant_id', 'provider_id']),
        ),
    ]
