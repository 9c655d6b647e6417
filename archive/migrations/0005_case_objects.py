"""The case file's registry (``archive.CaseObject``, archive/cases.py), under the append-only trigger of
migration 0002 on PostgreSQL: a filed object's row is never changed or deleted."""

from django.db import migrations, models

from archive.migrations._append_only import under_append_only_trigger

import archive.models

TABLE = "archive_caseobject"


class Migration(migrations.Migration):
    dependencies = [("archive", "0004_ledger_subtrees")]

    operations = [
        migrations.CreateModel(
            name="CaseObject",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("case", models.CharField(db_index=True, help_text="e.g. tender:42", max_length=100, verbose_name="案卷")),
                (
                    "name",
                    models.CharField(
                        help_text="its path in the case and the dossier, e.g. opening/opening-record.pdf",
                        max_length=400,
                        verbose_name="卷内名称",
                    ),
                ),
                ("object_key", models.CharField(max_length=1024, verbose_name="对象键")),
                ("version_id", models.CharField(blank=True, max_length=200, verbose_name="对象版本")),
                ("sha256", models.CharField(max_length=64, validators=[archive.models.hex64])),
                ("size", models.PositiveBigIntegerField(verbose_name="字节数")),
                ("content_type", models.CharField(max_length=100, verbose_name="类型")),
                (
                    "platform_signed",
                    models.BooleanField(
                        default=False,
                        help_text="a PDF the platform signed (PAdES): its signature must hold",
                        verbose_name="平台签章",
                    ),
                ),
                ("filed_at", models.DateTimeField(verbose_name="归档时间")),
                ("ledger_seq", models.BigIntegerField(unique=True, verbose_name="账本序号")),
            ],
            options={
                "verbose_name": "案卷对象",
                "verbose_name_plural": "案卷对象",
                "ordering": ["case", "ledger_seq"],
                "constraints": [models.UniqueConstraint(fields=("case", "name"), name="case_object_name_once")],
            },
        ),
        under_append_only_trigger(TABLE),
    ]
