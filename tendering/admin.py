"""Read-only back-office views of tenders: changes go through the services (and the ledger)."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from tendering.models import Amendment, Question, Tender, TenderDocument


@admin.register(Tender)
class TenderAdmin(ReadOnlyAdmin):
    list_display = ("number", "title", "tenderer", "procedure_type", "bid_deadline", "published_at")
    search_fields = ("number", "title", "tenderer__name")


@admin.register(TenderDocument)
class TenderDocumentAdmin(ReadOnlyAdmin):
    list_display = ("name", "tender", "size", "sha256", "uploaded_at")


@admin.register(Question)
class QuestionAdmin(ReadOnlyAdmin):
    list_display = ("tender", "asked_at", "answered_at")


@admin.register(Amendment)
class AmendmentAdmin(ReadOnlyAdmin):
    list_display = ("tender", "number", "issued_at", "new_deadline")
