"""Managers override message texts per dealership; staff look messages up."""

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from notifications.models import (
    InboundEmail,
    Message,
    MessageAttachment,
    MessageText,
    Purpose,
    QuickReply,
)
from notifications.texts import (
    COMMON_PLACEHOLDERS,
    PLACEHOLDERS,
    REQUIRED_PLACEHOLDERS,
    check_override,
)
from workshop.admin import ManagedByDealershipAdmin, managed_dealerships


def placeholder_help() -> str:
    rows = []
    for purpose, names in PLACEHOLDERS.items():
        if purpose not in MessageText.TextPurpose.values:
            continue
        required = ", ".join("{%s}" % n for n in REQUIRED_PLACEHOLDERS.get(purpose, ()))  # noqa: UP031
        listed = ", ".join("{%s} (%s)" % (n, label) for n, label in names.items())  # noqa: UP031
        rows.append((MessageText.TextPurpose(purpose).label, listed, required or "-"))
    return format_html_join(
        "",
        "<p><strong>{}</strong>: {}. " + str(_("Required")) + ": {}.</p>",
        rows,
    )


class MessageTextForm(forms.ModelForm):
    """A dealership's own text, refused with a reason next to the field when it names an
    unknown placeholder, misses a required one or would not fit one SMS."""

    class Meta:
        model = MessageText
        fields = ["dealership", "purpose", "channel", "language", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10, "cols": 80})}

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        errors = check_override(
            purpose=cleaned["purpose"],
            channel=cleaned["channel"],
            language=cleaned["language"],
            subject=cleaned.get("subject", ""),
            body=cleaned.get("body", ""),
        )
        for field_name, messages in errors.items():
            for message in messages:
                self.add_error(field_name, str(message))
        return cleaned


@admin.register(MessageText)
class MessageTextAdmin(ManagedByDealershipAdmin):
    form = MessageTextForm
    list_display = ["dealership", "purpose", "channel", "language", "updated_at"]
    list_filter = ["dealership", "purpose", "channel", "language"]
    readonly_fields = ["placeholders"]
    fields = ["dealership", "purpose", "channel", "language", "subject", "body", "placeholders"]

    @admin.display(description=_("Placeholders"))
    def placeholders(self, obj: MessageText | None) -> str:
        return placeholder_help()


class ReadOnlyInline(admin.StackedInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class InboundEmailInline(ReadOnlyInline):
    """An inbound e-mail's original: its full text, its addresses, the raw file."""

    model = InboundEmail
    fk_name = "message"
    fields = [
        "kind",
        "mail_id",
        "in_reply_to",
        "recipients",
        "reply_key",
        "dealership",
        "bounced",
        "full_text",
        "raw",
    ]


class MessageAttachmentInline(ReadOnlyInline):
    model = MessageAttachment
    fields = ["original_name", "state", "kind", "content_type", "size", "rejection_reason"]


class QuickReplyForm(forms.ModelForm):
    """A quick reply, checked as a message text: known placeholders only, and only
    characters an SMS can carry (it may go out by SMS)."""

    class Meta:
        model = QuickReply
        fields = ["dealership", "name", "language", "body", "position"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        errors = check_override(
            purpose=Purpose.REPLY,
            channel="sms",
            language=cleaned["language"],
            subject="",
            body=cleaned.get("body", ""),
        )
        for field_name, messages in errors.items():
            for message in messages:
                self.add_error(field_name, str(message))
        return cleaned


@admin.register(QuickReply)
class QuickReplyAdmin(ManagedByDealershipAdmin):
    form = QuickReplyForm
    list_display = ["name", "language", "dealership", "position"]
    list_filter = ["dealership", "language"]
    list_editable = ["position"]
    readonly_fields = ["placeholders"]
    fields = ["dealership", "name", "language", "body", "position", "placeholders"]

    @admin.display(description=_("Placeholders"))
    def placeholders(self, obj: QuickReply | None) -> str:
        return ", ".join(
            "{%s} (%s)" % (name, label)  # noqa: UP031
            for name, label in COMMON_PLACEHOLDERS.items()
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: the record of what went out and came in."""

    inlines = [InboundEmailInline, MessageAttachmentInline]

    list_display = [
        "queued_at",
        "appointment",
        "direction",
        "channel",
        "purpose",
        "status",
        "recipient",
        "attempts",
    ]
    list_filter = ["status", "channel", "purpose", "direction"]
    search_fields = ["recipient", "sender", "provider_id", "appointment__external_ref"]
    list_select_related = ["appointment__vehicle"]
    date_hierarchy = "queued_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        managed = managed_dealerships(request)
        # Mail that matched no appointment, to an address of the dealership's own.
        unmatched = Q(appointment__isnull=True, inbound_email__dealership__in=managed)
        return queryset.filter(Q(appointment__dealership__in=managed) | unmatched)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
