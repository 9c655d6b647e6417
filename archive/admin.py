"""Read-only views of the ledger and the case files: nobody adds, changes or deletes rows here."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from archive.models import CaseObject, LedgerCheckpoint, LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "case", "action", "actor_label", "recorded_at"]
    list_filter = ["action"]
    search_fields = ["=case", "=entry_hash", "action"]
    ordering = ["-seq"]
    show_full_result_count = False


@admin.register(LedgerCheckpoint)
class LedgerCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root_hash", "created_at", "certificate_fingerprint"]
    ordering = ["-tree_size"]


@admin.register(CaseObject)
class CaseObjectAdmin(ReadOnlyAdmin):
    list_display = ["case", "name", "size", "sha256", "filed_at", "ledger_seq"]
    search_fields = ["=case", "=sha256", "name"]
    ordering = ["case", "ledger_seq"]
    show_full_result_count = False
