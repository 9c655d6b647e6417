# Entrustments (委托): a tenderer lets an agency act in its name, for one tender or a period.
import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tendering", "0007_opening_faults"),
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Entrustment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("tender_number", models.CharField(blank=True, max_length=50, verbose_name="招标编号")),
                ("valid_from", models.DateTimeField(blank=True, null=True, verbose_name="委托起始时间")),
                ("valid_until", models.DateTimeField(blank=True, null=True, verbose_name="委托截止时间")),
                ("granted_at", models.DateTimeField()),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "agency",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entrustments_received",
                        to="accounts.organization",
                        verbose_name="招标代理机构",
                    ),
                ),
                (
                    "granted_by",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
                ),
                (
                    "revoked_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "tenderer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entrustments_granted",
                        to="accounts.organization",
                        verbose_name="招标人",
                    ),
                ),
            ],
            options={
                "verbose_name": "委托",
                "verbose_name_plural": "委托",
                "ordering": ["-granted_at", "-pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("tender_number__gt", ""), ("valid_from__isnull", True), ("valid_until__isnull", True)),
                            models.Q(("tender_number", ""), ("valid_from__isnull", False), ("valid_until__gt", models.F("valid_from"))),
                            _connector="OR",
                        ),
                        name="entrustment_one_tender_or_a_period",
                    )
                ],
            },
        ),
    ]
