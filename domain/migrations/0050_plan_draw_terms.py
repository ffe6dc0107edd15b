from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('podium', '0049_credit_notes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PlanDrawTerms',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('podium.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='plan_draw_terms', on_delete=OnDelete.CASCADE)),
                ('plan', fields.ForeignKeyField('podium.Plan', source_field='plan_id', db_constraint=True, to_field='id', related_name='draw_terms', on_delete=OnDelete.CASCADE)),
                ('recovery_share', fields.DecimalField(max_digits=7, decimal_places=6)),
                ('on_termination', fields.CharField(max_length=10)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'plan_draw_terms', 'app': 'podium', 'unique_together': (('tenant', 'plan'),), 'pk_attr': 'id', 'table_description': 'What a plan says of its draws: the share of later earnings a recoverable draw takes'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Draw',
            name='on_termination',
            field=fields.CharField(null=True, max_length=10),
        ),
        ops.AlterField(
            model_name='Draw',
            name='recovery_share',
            field=fields.DecimalField(null=True, max_digits=7, decimal_places=6),
        ),
    ]
