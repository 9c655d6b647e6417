"""The stored subtree hashes of the ledger's Merkle tree (O(log n) proofs, docs/ledger.md §3).

Adds the append-only table ``archive_ledgersubtree`` (one row per perfect
subtree of two or more entries) and the head row's ``frontier``, fills both for
the entries already recorded (streamed in ``seq`` order, nothing held but the
frontier and one batch), and on PostgreSQL puts the table under the append-only
trigger of migration 0002. No existing row of an append-only table is changed.
"""

from django.db import migrations, models

from archive import merkle
from archive.migrations._append_only import under_append_only_trigger

TABLE = "archive_ledgersubtree"
BATCH = 2000


def fill(apps, schema_editor):
    entries = apps.get_model("archive", "LedgerEntry")
    subtrees = apps.get_model("archive", "LedgerSubtree")
    heads = apps.get_model("archive", "LedgerHead")
    alias = schema_editor.connection.alias
    head = heads.objects.using(alias).filter(pk=1).first()
    accumulator = merkle.RootAccumulator()
    head_frontier = [] if head is None or head.seq == 0 else None
    batch = []
    rows = entries.objects.using(alias).order_by("seq").values_list("seq", "leaf_hash")
    for seq, leaf in rows.iterator(chunk_size=BATCH):
        if seq != accumulator.size + 1:
            raise RuntimeError(f"ledger entry {accumulator.size + 1} is missing: run manage.py verify_ledger first")
        completed = accumulator.append(bytes.fromhex(leaf))
        batch.extend(subtrees(seq=seq, level=level, hash=value) for level, value in enumerate(completed, start=1))
        if head is not None and head.seq == seq:
            head_frontier = accumulator.frontier
        if len(batch) >= BATCH:
            subtrees.objects.using(alias).bulk_create(batch)
            batch = []
    subtrees.objects.using(alias).bulk_create(batch)
    if head is not None:
        if head_frontier is None:
            raise RuntimeError(f"the ledger head names entry {head.seq}, which is missing: run manage.py verify_ledger")
        heads.objects.using(alias).filter(pk=1).update(frontier=b"".join(head_frontier))


class Migration(migrations.Migration):
    dependencies = [("archive", "0003_checkpoint_timestamp")]

    operations = [
        migrations.AddField(
            model_name="ledgerhead",
            name="frontier",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.CreateModel(
            name="LedgerSubtree",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "seq", "level", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("seq", models.BigIntegerField(verbose_name="最后条目序号")),
                ("level", models.PositiveSmallIntegerField(verbose_name="层")),
                ("hash", models.BinaryField(max_length=32, verbose_name="哈希")),
            ],
            options={
                "verbose_name": "账本子树哈希",
                "verbose_name_plural": "账本子树哈希",
                "ordering": ["seq", "level"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("level__gte", 1), ("level__lte", 62)), name="ledger_subtree_level"
                    ),
                    models.CheckConstraint(condition=models.Q(("seq__gte", 2)), name="ledger_subtree_seq"),
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        under_append_only_trigger(TABLE),
    ]
