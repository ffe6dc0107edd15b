"""Recompute requests count their failed attempts and park after the last (or at once when a
recompute fails on its data), keeping the error: a failure that was not a data error put the
request back to be retried by every sweep, forever, and one on its data deleted it with only a
log line to show. A parked request is skipped by the workers, the sweeper and
`podium rebuild-cache`, and listed by `podium tenant show` with its error."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('podium', '0052_transactions_own_by_rep')]

    initial = False

    operations = [
        ops.AddField(
            model_name='RecomputeRequest',
            name='attempts',
            field=fields.SmallIntField(default=0),
        ),
        ops.AddField(
            model_name='RecomputeRequest',
            name='error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='RecomputeRequest',
            name='parked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
