"""A notification kind for entering a top 3 (`tortoise makemigrations`)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from domain.notifications.models import NotificationKind


class Migration(migrations.Migration):
    dependencies = [("podium", "0015_leaderboards")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Notification",
            name="kind",
            field=fields.CharEnumField(
                description="ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard",
                enum_type=NotificationKind,
                max_length=20,
            ),
        ),
        ops.AlterField(
            model_name="NotificationSent",
            name="kind",
            field=fields.CharEnumField(
                description="ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard",
                enum_type=NotificationKind,
                max_length=20,
            ),
        ),
    ]
