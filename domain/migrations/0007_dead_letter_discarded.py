from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ingest.models import DeadLetterStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0006_hot_path_indexes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='DeadLetter',
            name='status',
            field=fields.CharEnumField(default=DeadLetterStatus.OPEN, description='OPEN: open\nREPLAYED: replayed\nDISCARDED: discarded', enum_type=DeadLetterStatus, max_length=10),
        ),
    ]
