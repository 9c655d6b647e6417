"""On PostgreSQL, the database itself refuses to change or delete ledger rows.

A trigger on the entry and checkpoint tables raises 'ledger is append-only' on
UPDATE, DELETE and TRUNCATE. Only TRUNCATE can be let through, and only by a
session that sets ``etender.ledger_allow_truncate = 'on'`` (the test runner's
flush does, see archive.ledger._allow_test_flush). A database superuser can
still disable the trigger: the signed checkpoints and ``verify_ledger`` are what
catch that. Other databases rely on the ORM's refusal (archive.models).
"""

from django.db import migrations

TABLES = ["archive_ledgerentry", "archive_ledgercheckpoint"]

FUNCTION = """
CREATE OR REPLACE FUNCTION archive_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('etender.ledger_allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001', HINT = 'Ledger rows are never changed or deleted; append a new entry instead.';
END
$$;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # no placeholders: the % are PL/pgSQL's
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION archive_ledger_append_only()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION archive_ledger_append_only()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS archive_ledger_append_only()")


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
