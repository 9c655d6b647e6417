"""A withdrawn bid's ledger entry and its signed, time-stamped receipt (撤回回执)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tendering", "0008_entrustments"),
    ]

    operations = [
        migrations.AddField(
            model_name="bid",
            name="withdrawal_ledger_seq",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bid",
            name="withdrawal_receipt",
            field=models.BinaryField(blank=True, default=b""),
        ),
    ]
