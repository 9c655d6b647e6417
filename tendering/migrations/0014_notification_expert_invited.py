from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tendering", "0013_notification_tender_failed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[("amendment", "澄清或修改"), ("tender_failed", "招标失败"), ("expert_invited", "评标邀请")],
                max_length=50,
            ),
        ),
    ]
