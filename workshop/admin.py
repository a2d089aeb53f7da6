"""The Django admin, for managers configuring their dealerships.

Superusers see everything. A manager (staff user with a manager membership) sees and
changes only the dealerships they manage, their offers and their staff.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from workshop.models import Dealership, Membership, Offer, OfferTranslation, Role

User = get_user_model()
# The roles a manager may give; a manager membership is the operator's to give.
STAFF_ROLES = [Role.RECEPTIONIST, Role.MECHANIC]


def managed_dealerships(request: HttpRequest) -> QuerySet[Dealership]:
    if request.user.is_superuser:
        return Dealership.objects.all()
    return Dealership.objects.filter(
        # The admin signs in first: never an anonymous user's pk of None.
        memberships__user_id=request.user.pk,  # type: ignore[misc]
        memberships__role=Role.MANAGER,
    )


def staff_managed_by(request: HttpRequest, users: QuerySet) -> QuerySet:
    """The users a manager may create, change, set the password of and delete.

    Their own staff only, never anyone with more rights than a manager gives: every
    membership of the user lies in a dealership the signed-in user manages, none as
    manager, and the user has no admin rights (staff flag, superuser, groups or
    permissions of their own). Not the manager themselves either: their own password
    is changed through the admin's "Change password". Superusers run everyone.
    """
    if request.user.is_superuser:
        return users
    managed = managed_dealerships(request)
    memberships = Membership.objects.filter(user=OuterRef("pk"))
    return (
        users.filter(is_superuser=False, is_staff=False)
        .exclude(pk=request.user.pk)
        .filter(Exists(memberships.filter(dealership__in=managed)))
        .exclude(Exists(memberships.exclude(dealership__in=managed, role__in=STAFF_ROLES)))
        .exclude(Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"))))
        .exclude(Exists(User.user_permissions.through.objects.filter(user_id=OuterRef("pk"))))
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

    def get_list_filter(self, request: HttpRequest):
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser:
            return list_filter
        # The plain filter would list every dealership's name.
        return [
            ("dealership", admin.RelatedOnlyFieldListFilter) if name == "dealership" else name
            for name in list_filter
        ]


@admin.register(Dealership)
class DealershipAdmin(ManagedByDealershipAdmin):
    dealership_lookup = "pk"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
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
        (_("Conversation"), {"fields": ["sms_number", "booking_url"]}),
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


class StaffMembershipFields(admin.options.BaseModelAdmin):
    """A manager gives memberships in the dealerships they manage, with a staff role.

    Making someone a manager, like granting admin rights, stays with the operator.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Dealership:
            kwargs["queryset"] = managed_dealerships(request)
        elif db_field.related_model is User:
            kwargs["queryset"] = staff_managed_by(request, User.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [
                (value, label)
                for value, label in db_field.get_choices(include_blank=True)
                if value != Role.MANAGER
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class MembershipInline(StaffMembershipFields, admin.TabularInline):
    model = Membership
    extra = 1

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(dealership__in=managed_dealerships(request))

    def get_min_num(self, request: HttpRequest, obj=None, **kwargs) -> int:
        # A user a manager creates starts in one of their dealerships, in the same step:
        # a user without a membership would be nobody's staff (and no manager could see
        # or fix them); and the last membership cannot be taken away here either.
        return 0 if request.user.is_superuser else 1

    def get_extra(self, request: HttpRequest, obj=None, **kwargs) -> int:
        return 0 if obj is None and not request.user.is_superuser else 1

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        kwargs.setdefault("validate_min", not request.user.is_superuser)
        return super().get_formset(request, obj, **kwargs)


@admin.register(Membership)
class MembershipAdmin(StaffMembershipFields, ManagedByDealershipAdmin):
    list_display = ["user", "dealership", "role", "morning_summary"]
    list_filter = ["dealership", "role", "morning_summary"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        # Other managers' memberships, and those of staff who also work elsewhere, are
        # not a manager's to change or take away.
        return queryset.filter(user__in=staff_managed_by(request, User.objects.all()))


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return staff_managed_by(request, super().get_queryset(request))

    def _is_theirs(self, request: HttpRequest, obj) -> bool:
        # The list, the forms, the password page and bulk actions all start from
        # get_queryset; this holds the same line for any code path that passes an object.
        return (
            obj is None
            or request.user.is_superuser
            or self.get_queryset(request).filter(pk=obj.pk).exists()
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new user must get a membership in the same step (see MembershipInline).
        return super().has_add_permission(request) and (
            request.user.is_superuser or request.user.has_perm("workshop.add_membership")
        )

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) and self._is_theirs(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._is_theirs(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._is_theirs(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        # Managers run their staff; granting admin rights stays with the operator. The
        # form is built from these fields only, so flags posted by hand are ignored.
        return [
            (None, {"fields": ["username", "password"]}),
            (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
            (_("Access"), {"fields": ["is_active"]}),
        ]
