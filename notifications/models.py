"""Messages to and from customers, and their delivery."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workshop.models import Appointment, Channel, Customer


def new_callback_key() -> str:
    return secrets.token_urlsafe(16)


class MessageQuerySet(models.QuerySet["Message"]):
    def for_appointment(self, appointment: Appointment):
        return self.filter(appointment=appointment)

    def outbound(self):
        return self.filter(direction=Message.Direction.OUT)


class Message(models.Model):
    """One SMS or e-mail, out or in.

    The row is written first ("queued"), then the transport is called, then the
    outcome is recorded, so nothing is sent without a trace and nothing twice.
    """

    class Direction(models.TextChoices):
        OUT = "out", _("Sent to the customer")
        IN = "in", _("Received from the customer")

    class Purpose(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder")
        CONFIRMATION = "confirmation", _("Confirmation")
        REPLY = "reply", _("Reply")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        RECEIVED = "received", _("Received")

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    recipient = models.CharField(_("to"), max_length=254)
    sender = models.CharField(_("from"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    html_body = models.TextField(_("HTML"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(_("provider id"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The status-callback URL carries this random key instead of our primary key.
    callback_key = models.CharField(max_length=32, unique=True, default=new_callback_key)
    # The message this one replaces after a permanent failure on the other channel.
    fallback_for = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="fallback"
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["queued_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="in", status="received")
                | Q(direction="out") & ~Q(status="received"),
                name="message_status_matches_direction",
            ),
        ]
        indexes = [
            # The appointment's timeline.
            models.Index(fields=["appointment", "queued_at"], name="message_timeline_idx"),
            # Provider status callbacks look messages up by the provider's id.
            models.Index(fields=["provider_id"], name="message_provider_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_purpose_display()} to {self.recipient}"
