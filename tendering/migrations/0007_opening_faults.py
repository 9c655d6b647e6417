# The opening's faults and checks (issue 7): custodians' parts checked for every bid, "does not open"
# statements, retries with back-off until the decryption window ends, refused key releases counted,
# custodians' parts dropped once combined.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tendering", "0006_custody_confirmations")]

    operations = [
        migrations.AddField(
            model_name="bidopening",
            name="custodian_check",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "待核验"),
                    ("matched", "密钥分量可恢复密钥"),
                    ("defect", "密钥分量无法恢复密钥（投标人原因）"),
                    ("inconclusive", "密钥保管人未全部提交，未能核验"),
                ],
                default="",
                max_length=20,
            ),
        ),
        migrations.AddField(model_name="bidopening", name="faults", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="bidopening", name="key_refusals", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="bidopening", name="last_fault", field=models.CharField(blank=True, max_length=200)),
        migrations.AddField(model_name="bidopening", name="last_key_refusal_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="bidopening", name="retry_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="custodiansubmission", name="refusals", field=models.JSONField(blank=True, default=list)),
        migrations.AddField(model_name="opening", name="custodian_parts_dropped_at", field=models.DateTimeField(blank=True, null=True)),
    ]
