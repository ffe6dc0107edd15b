"""A leaderboard's scope may be a named group (`tortoise makemigrations`)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("podium", "0016_leaderboard_notifications")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Leaderboard",
            name="group_name",
            field=fields.CharField(null=True, max_length=100),
        ),
    ]
