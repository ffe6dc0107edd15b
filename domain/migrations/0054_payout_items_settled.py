"""Payout items record a settlement by hand (`podium payouts settle`, `settlePayoutItem`):
when, by whom, why and the person's reference, for a pending item whose provider never
answered for sure, declared paid or failed by payout ops."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0053_recompute_request_attempts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PayoutItem',
            name='settle_reason',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='PayoutItem',
            name='settle_reference',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='PayoutItem',
            name='settled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PayoutItem',
            name='settled_by',
            field=fields.UUIDField(null=True),
        ),
    ]
