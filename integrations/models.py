"""The DMS and other systems: API keys, the calls made with them, outbound webhooks,
the events they carry and each delivery of an event to an endpoint."""

import base64
import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workshop.models import Appointment, Dealership

KEY_PREFIX = "pl_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def find(self, key: str) -> "ApiKey | None":
        """The active key `key` is, or None. The key is `pl_<id>_<secret>`: the id finds
        the row, the secret's hash is compared in constant time."""
        if not key.startswith(KEY_PREFIX):
            return None
        selector, _sep, secret = key.removeprefix(KEY_PREFIX).partition("_")
        if not selector or not secret:
            return None
        found = self.active().select_related("dealership").filter(selector=selector).first()
        if found is None or not hmac.compare_digest(found.secret_hash, _digest(secret)):
            return None
        return found


class ApiKey(models.Model):
    """A dealership's key to the API. Shown once when made; only its hash is kept."""

    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("dealership")
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses this key."))
    selector = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({KEY_PREFIX}{self.selector}_…)"

    def issue(self) -> str:
        """Gives the key a new secret and returns the whole key, the only time it is seen."""
        self.selector = secrets.token_hex(4)
        secret = secrets.token_urlsafe(24)
        self.secret_hash = _digest(secret)
        return f"{KEY_PREFIX}{self.selector}_{secret}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class ApiCall(models.Model):
    """One call to the API: who, what, the outcome. Never the key or the body."""

    key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("API key"),
    )
    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dealership"),
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    status = models.PositiveSmallIntegerField(_("status"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("API call")
        verbose_name_plural = _("API calls")
        indexes = [
            # The admin's log of a dealership's calls, newest first.
            models.Index(fields=["dealership", "-at"], name="apicall_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class EventName(models.TextChoices):
    """What a webhook can be told. `integrations.events.emit` writes one of these."""

    CHECKIN_SENT = "checkin.sent", _("Check-in sent by the customer")
    ITEM_CONVERTED = "item.converted", _("Check-in item converted to a work item")
    APPOINTMENT_CONFIRMED = "appointment.confirmed", _("Appointment confirmed")
    APPOINTMENT_DECLINED = "appointment.declined", _("Appointment declined")
    APPOINTMENT_CANCELLED = "appointment.cancelled", _("Appointment cancelled")
    APPOINTMENT_MOVED = "appointment.moved", _("Appointment moved")
    APPOINTMENT_ARRIVED = "appointment.arrived", _("Customer arrived")
    APPOINTMENT_READY = "appointment.ready", _("Vehicle ready")
    APPOINTMENT_COLLECTED = "appointment.collected", _("Vehicle collected")
    APPOINTMENT_NO_SHOW = "appointment.no_show", _("Customer did not come")


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookQuerySet(models.QuerySet["Webhook"]):
    def listening(self, dealership_id: int, event: str):
        return self.filter(dealership_id=dealership_id, active=True, events__contains=f" {event} ")


class Webhook(models.Model):
    """An endpoint a manager set up: where to send which events, and the signing secret."""

    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("dealership")
    )
    url = models.URLField(_("URL"), max_length=500)
    # The event names, space-separated with a space at each end, so "contains ' name '"
    # matches one whole name (see `WebhookQuerySet.listening`).
    events = models.CharField(_("events"), max_length=500)
    secret = models.CharField(
        _("signing secret"), max_length=100, default=new_webhook_secret, editable=False
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url

    @property
    def event_names(self) -> list[str]:
        return self.events.split()

    def set_events(self, names: list[str]) -> None:
        self.events = f" {' '.join(names)} " if names else ""


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookEvent(models.Model):
    """One change, written in the same transaction as the change. Its `pk` orders the
    API's change feed; its `event_id` is the Standard Webhooks id receivers dedupe by."""

    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="+", verbose_name=_("dealership")
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appointment"),
    )
    event_id = models.CharField(_("event id"), max_length=40, unique=True, default=new_event_id)
    name = models.CharField(_("event"), max_length=40, choices=EventName.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    # The document sent, as sent: the DMS's terms, fixed when the change happened.
    payload = models.JSONField(_("payload"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [
            # The API's change feed: a dealership's events after a cursor.
            models.Index(fields=["dealership", "id"], name="webhookevent_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: tried until the endpoint says 2xx, with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook delivery", "Waiting")
        SENDING = "sending", pgettext_lazy("webhook delivery", "Sending")
        DELIVERED = "delivered", pgettext_lazy("webhook delivery", "Delivered")
        FAILED = "failed", pgettext_lazy("webhook delivery", "Failed")

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    attempted_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "webhook"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The sweep: deliveries waiting or stuck.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook}"
