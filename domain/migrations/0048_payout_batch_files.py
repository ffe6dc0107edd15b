from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0047_payout_batches')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PayoutBatch',
            name='file_content',
            field=fields.BinaryField(null=True),
        ),
        ops.AddField(
            model_name='PayoutBatch',
            name='file_media_type',
            field=fields.CharField(null=True, max_length=60),
        ),
        ops.AddField(
            model_name='PayoutBatch',
            name='file_name',
            field=fields.CharField(null=True, max_length=100),
        ),
    ]
