from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.notifications.models import NotificationKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0041_payout_providers')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nDISPUTE_RAISED: dispute_raised\nDISPUTE_RESOLVED: dispute_resolved\nPAYOUT_DETAILS: payout_details', enum_type=NotificationKind, max_length=20),
        ),
        ops.AlterField(
            model_name='NotificationSent',
            name='kind',
            field=fields.CharEnumField(description='ATTAINMENT: attainment\nTIER: tier\nPAYABLE: payable\nTARGET: target\nLEADERBOARD: leaderboard\nBADGE: badge\nLEVEL: level\nCONTEST_STARTED: contest_started\nCONTEST_ENDED: contest_ended\nCONTEST_WON: contest_won\nDISPUTE_RAISED: dispute_raised\nDISPUTE_RESOLVED: dispute_resolved\nPAYOUT_DETAILS: payout_details', enum_type=NotificationKind, max_length=20),
        ),
    ]
