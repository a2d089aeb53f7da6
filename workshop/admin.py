"""The Django admin, for managers configuring their dealerships.

Superusers see everything. A manager (staff user with a manager membership) sees and
changes only the dealerships they manage, their offers and their staff.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from workshop.models import Dealership, Membership, Offer, OfferTranslation, Role

User = get_user_model()


def managed_dealerships(request: HttpRequest) -> QuerySet[Dealership]:
    if request.user.is_superuser:
        return Dealership.objects.all()
    return Dealership.objects.filter(
        memberships__user_id=request.user.pk,  # type: ignore[misc]  # login required
        memberships__role=Role.MANAGER,
    )


class ManagedByDealershipAdmin(admin.ModelAdmin):
    """Limits rows and dealership choices to the dealerships the user manages."""

    dealership_lookup = "dealership"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **{f"{self.dealership_lookup}__in": managed_dealerships(request)}
        ).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Dealership:
            kwargs["queryset"] = managed_dealerships(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Dealership)
class DealershipAdmin(ManagedByDealershipAdmin):
    dealership_lookup = "pk"
    list_display = ["name", "city", "country", "language", "invitation_lead_days"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "logo", "brand_colour"]}),
        (_("Address"), {"fields": ["street", "postal_code", "city", "country", "phone", "email"]}),
        (_("Region"), {"fields": ["time_zone", "language", "currency", "vat_rate"]}),
        (
            _("Invitations"),
            {
                "fields": [
                    "invitation_lead_days",
                    "sending_starts",
                    "sending_ends",
                    "sending_days",
                    "reminders_enabled",
                ]
            },
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New sites are set up by the operator, not by a dealership's manager.
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


class OfferTranslationInline(admin.TabularInline):
    model = OfferTranslation
    extra = 0


@admin.register(Offer)
class OfferAdmin(ManagedByDealershipAdmin):
    inlines = [OfferTranslationInline]
    # A link typed without a scheme is a web address: https, as Django 6 will assume.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "dealership", "price", "active", "converts_to_work_item", "position"]
    list_editable = ["active", "position"]
    list_filter = ["dealership", "active"]
    search_fields = ["name", "description"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Dealership:
            kwargs["queryset"] = managed_dealerships(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(dealership__in=managed_dealerships(request))


@admin.register(Membership)
class MembershipAdmin(ManagedByDealershipAdmin):
    list_display = ["user", "dealership", "role"]
    list_filter = ["dealership", "role"]
    autocomplete_fields = ["user"]


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            memberships__dealership__in=managed_dealerships(request), is_superuser=False
        ).distinct()

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        # Managers run their staff; granting admin rights stays with the operator.
        return [
            (None, {"fields": ["username", "password"]}),
            (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
            (_("Access"), {"fields": ["is_active"]}),
        ]
