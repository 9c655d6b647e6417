"""Read-only views of the ledger: nobody adds, changes or deletes entries here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from archive.models import LedgerCheckpoint, LedgerEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


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
