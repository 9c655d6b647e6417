# The bidder's response index (评审因素定位), read out of the container at the opening's one pass.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tendering", "0011_tender_outcome"),
    ]

    operations = [
        migrations.AddField(
            model_name="bidopening",
            name="response_index",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
