# Custodians' signed confirmations of their slots (issue 7, docs/custody.md §C).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tendering", "0005_opening")]

    operations = [
        migrations.AddField(
            model_name="tendercustodian",
            name="custody_confirmed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="tendercustodian",
            name="custody_signature",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="tendercustodian",
            name="custody_signing_key",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.publickey"
            ),
        ),
        migrations.AddField(
            model_name="tendercustodian",
            name="custody_statement",
            field=models.BinaryField(blank=True, null=True),
        ),
    ]
