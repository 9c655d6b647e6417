"""Back office for platform administrators: accounts, organizations, roles.

Public keys and tokens are shown read-only: an administrator may revoke access
(deactivate a user) but cannot register a key in someone's name.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken, Organization, PublicKey, RoleGrant, User


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("机构"), {"fields": ("organization", "display_name")}))  # type: ignore[misc]
    list_display = ("username", "display_name", "organization", "is_active")
    list_filter = ("is_active", "role_grants__role", "organization__kind")
    search_fields = ("username", "display_name", "organization__name")
    inlines = [RoleGrantInline]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "credit_code")
    list_filter = ("kind",)
    search_fields = ("name", "credit_code")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records are changed by services (and the ledger), never by hand in the back office."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(PublicKey)
class PublicKeyAdmin(ReadOnlyAdmin):
    list_display = ("owner", "organization", "purpose", "fingerprint", "registered_at", "revoked_at")
    list_filter = ("purpose",)
    exclude = ("spki_der",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("user", "name", "prefix", "created_at", "expires_at", "revoked_at")
    exclude = ("token_hash",)
