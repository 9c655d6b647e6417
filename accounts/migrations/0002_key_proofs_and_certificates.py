# Proof of possession at key registration, and CA certificates for keys (issue 7, docs/custody.md §A–B).
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="publickey",
            name="certificate_der",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="publickey",
            name="proof",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.AddField(
            model_name="publickey",
            name="proof_statement",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.CreateModel(
            name="KeyChallenge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("purpose", models.CharField(choices=[("signing", "签名"), ("encryption", "加密")], max_length=20)),
                ("fingerprint", models.CharField(max_length=64)),
                ("challenge_hash", models.CharField(max_length=64, unique=True)),
                ("statement", models.BinaryField()),
                ("secret_hash", models.CharField(blank=True, max_length=64)),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="key_challenges", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "密钥登记挑战",
                "verbose_name_plural": "密钥登记挑战",
                "ordering": ["-created_at"],
            },
        ),
    ]
