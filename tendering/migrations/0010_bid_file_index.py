# The opening in one pass: no second encrypted copy of an opened bid (its files are read out of the accepted
# ciphertext through the index in BidOpening.files), so no evaluation key or copy; the ciphertext's header kept
# for range reads; no hash of the whole plaintext (the ciphertext's is the one the bidder signed).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tendering", "0009_withdrawal_receipt"),
    ]

    operations = [
        migrations.RemoveField(model_name="bidopening", name="evaluation_object_key"),
        migrations.RemoveField(model_name="bidopening", name="evaluation_version_id"),
        migrations.RemoveField(model_name="bidopening", name="sealed_evaluation_key"),
        migrations.RemoveField(model_name="bidopening", name="plaintext_sha256"),
        migrations.AddField(
            model_name="bidopening",
            name="ciphertext_header",
            field=models.BinaryField(blank=True, default=b""),
        ),
    ]
