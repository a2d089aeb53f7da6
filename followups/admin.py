"""Managers set their dealership's closing days, follow-up settings, tags and note
templates; follow-ups and their attempts can be looked up."""

from django.contrib import admin

from followups.models import Attempt, ClosingDay, FollowUp, FollowUpSettings, NoteTemplate, Tag
from workshop.admin import ManagedByDealershipAdmin


@admin.register(ClosingDay)
class ClosingDayAdmin(ManagedByDealershipAdmin):
    list_display = ["date", "label", "dealership"]
    list_filter = ["dealership"]
    date_hierarchy = "date"


@admin.register(FollowUpSettings)
class FollowUpSettingsAdmin(ManagedByDealershipAdmin):
    list_display = [
        "dealership",
        "days_between_attempts",
        "escalate_after_hours",
        "not_opened_days_before",
    ]


@admin.register(Tag)
class TagAdmin(ManagedByDealershipAdmin):
    list_display = ["name", "dealership"]
    list_filter = ["dealership"]


@admin.register(NoteTemplate)
class NoteTemplateAdmin(ManagedByDealershipAdmin):
    list_display = ["name", "language", "outcome", "dealership", "position"]
    list_filter = ["dealership", "language"]
    list_editable = ["position"]


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "outcome", "note", "by", "at", "call_back_at", "phone"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(ManagedByDealershipAdmin):
    """Tags and assignment may change here; attempts only through the call dialog."""

    inlines = [AttemptInline]
    list_display = [
        "appointment",
        "reason",
        "status",
        "outcome",
        "priority",
        "due_at",
        "assigned_to",
    ]
    list_filter = ["dealership", "status", "reason", "priority"]
    fields = [
        "appointment",
        "reason",
        "about",
        "status",
        "outcome",
        "priority",
        "tags",
        "assigned_to",
        "due_at",
    ]
    readonly_fields = ["appointment", "reason", "status", "outcome", "due_at"]
    filter_horizontal = ["tags"]

    def has_add_permission(self, request) -> bool:
        return False
