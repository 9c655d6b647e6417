"""Putting a table under the ledger's append-only trigger (the function of migration 0002), written once for the
migrations that add append-only tables (0004, 0005, 0006). PostgreSQL only; other databases rely on the ORM's
refusal (archive.models). Not a migration itself: the loader skips modules whose names start with ``_``."""

from django.db import migrations


def under_append_only_trigger(table: str) -> migrations.RunPython:
    """The operation that refuses UPDATE, DELETE and TRUNCATE on ``table`` (and drops the triggers backwards)."""

    def install(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
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
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")

    return migrations.RunPython(install, uninstall, elidable=False)
