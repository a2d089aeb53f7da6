"""Managers set up API keys and webhooks for their dealerships, and read the logs.

An API key is shown once, when it is made; only its hash is kept. Revoking stops it at
once. Deliveries can be sent again (replayed) with the same event id."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from integrations import webhooks
from integrations.models import ApiCall, ApiKey, EventName, Webhook, WebhookDelivery
from workshop.admin import ManagedByDealershipAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ManagedByDealershipAdmin):
    list_display = ["name", "dealership", "__str__", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["dealership"]
    fields = ["dealership", "name", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is not None:  # a key stays with its dealership
            return [*self.readonly_fields, "dealership"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if not change:
            key = obj.issue()
            obj.created_by = request.user  # type: ignore[assignment]
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                _("The new API key is %(key)s. Copy it now: it is not shown again.") % {"key": key},
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoked, not deleted: the call log keeps pointing at it

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, ngettext("%(n)s key revoked.", "%(n)s keys revoked.", count) % {"n": count}
        )


@admin.register(ApiCall)
class ApiCallAdmin(ManagedByDealershipAdmin):
    list_display = ["at", "method", "path", "status", "duration_ms", "key", "client_ip"]
    list_filter = ["dealership", "status"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_choices = forms.MultipleChoiceField(
        label=_("events"),
        choices=EventName.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["dealership", "url", "active"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.instance.pk:
            self.initial["event_choices"] = self.instance.event_names

    def save(self, commit: bool = True) -> Webhook:
        self.instance.set_events(self.cleaned_data["event_choices"])
        return super().save(commit)


@admin.register(Webhook)
class WebhookAdmin(ManagedByDealershipAdmin):
    form = WebhookForm
    list_display = ["url", "dealership", "events", "active"]
    list_filter = ["dealership", "active"]
    readonly_fields = ["secret"]
    fields = ["dealership", "url", "event_choices", "active", "secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ManagedByDealershipAdmin):
    dealership_lookup = "webhook__dealership"
    list_display = [
        "event",
        "webhook",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    list_select_related = ["event", "webhook"]
    readonly_fields = [
        "event",
        "webhook",
        "status",
        "attempts",
        "next_attempt_at",
        "attempted_at",
        "delivered_at",
        "response_status",
        "error",
        "payload",
    ]
    fields = list(readonly_fields)
    actions = ["replay"]

    @admin.display(description=_("payload"))
    def payload(self, obj: WebhookDelivery):
        return obj.event.payload

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("Send the selected deliveries again"))
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        deliveries = list(queryset)
        for delivery in deliveries:
            webhooks.replay(delivery)
        self.message_user(
            request,
            ngettext(
                "%(n)s delivery queued again.", "%(n)s deliveries queued again.", len(deliveries)
            )
            % {"n": len(deliveries)},
        )
