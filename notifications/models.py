"""Messages to and from customers, their delivery, and the texts managers override."""

import re
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from workshop.models import LANGUAGE_CHOICES, Appointment, Channel, Customer, Dealership


def new_callback_key() -> str:
    return secrets.token_urlsafe(16)


class Purpose(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    REMINDER = "reminder", _("Reminder")
    CONFIRMATION = "confirmation", _("Confirmation")
    REPLY = "reply", _("Reply")
    # To the former e-mail address or mobile number, after the customer changed it.
    CONTACT_CHANGED = "contact_changed", _("Contact details changed")


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

    Purpose = Purpose

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("message status", "Queued")
        SENDING = "sending", pgettext_lazy("message status", "Sending")
        SENT = "sent", pgettext_lazy("message status", "Sent")
        DELIVERED = "delivered", pgettext_lazy("message status", "Delivered")
        FAILED = "failed", pgettext_lazy("message status", "Failed")
        # Not sent: the appointment was cancelled, moved or had started by then.
        CANCELLED = "cancelled", pgettext_lazy("message status", "Not sent")
        RECEIVED = "received", pgettext_lazy("message status", "Received")

    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("appointment"),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("customer"),
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
    # When the last send attempt started; a message left "sending" long after is surfaced.
    attempted_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(_("provider id"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The send batch that claimed it, while "sending" (`delivery.send_messages`): the
    # sweep tells a batch's message that may have gone out from those never tried.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    # The status-callback URL carries this random key instead of our primary key.
    callback_key = models.CharField(max_length=32, unique=True, default=new_callback_key)
    # The message this one replaces after a permanent failure on the other channel.
    fallback_for = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fallback",
        verbose_name=_("instead of"),
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
            # Twilio retries a webhook it got no answer to: one row per inbound message.
            models.UniqueConstraint(
                fields=["provider_id"],
                condition=Q(direction="in") & ~Q(provider_id=""),
                name="message_inbound_once",
            ),
        ]
        indexes = [
            # The appointment's timeline.
            models.Index(fields=["appointment", "queued_at"], name="message_timeline_idx"),
            # Provider status callbacks look messages up by the provider's id.
            models.Index(fields=["provider_id"], name="message_provider_idx"),
            # An inbound SMS finds the last message we sent to its number.
            models.Index(fields=["recipient", "queued_at"], name="message_recipient_idx"),
            # The sweep: messages still waiting for, or stuck in, a send.
            models.Index(
                fields=["status", "queued_at"],
                name="message_pending_idx",
                condition=Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        if self.channel == Channel.SMS:
            text = gettext("%(purpose)s by SMS to %(recipient)s")
        else:
            text = gettext("%(purpose)s by e-mail to %(recipient)s")
        return text % {"purpose": self.get_purpose_display(), "recipient": self.recipient}

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUT

    @property
    def keeps_its_recipient(self) -> bool:
        """A notice that the contact details changed goes to the former address it was
        written for: never re-addressed to the customer's current one, nor sent by
        another channel when it fails."""
        return self.purpose == Purpose.CONTACT_CHANGED

    @property
    def sms_segments(self) -> int:
        from notifications.gsm import segments

        return segments(self.body)

    def status_changes(self) -> list[tuple[object, object]]:
        """(status label, time) for each step the message went through, oldest first."""
        steps = [
            (self.Status.QUEUED, self.queued_at if self.is_outbound else None),
            (self.Status.SENT, self.sent_at),
            (self.Status.DELIVERED, self.delivered_at),
            (self.Status.FAILED, self.failed_at),
            (self.Status.RECEIVED, self.received_at),
        ]
        return [(status.label, at) for status, at in steps if at is not None]


PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class MessageText(models.Model):
    """A dealership's own wording for one message, replacing the built-in template."""

    class TextPurpose(models.TextChoices):
        INVITATION = Purpose.INVITATION.value, Purpose.INVITATION.label
        REMINDER = Purpose.REMINDER.value, Purpose.REMINDER.label
        CONFIRMATION = Purpose.CONFIRMATION.value, Purpose.CONFIRMATION.label

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="message_texts",
        verbose_name=_("dealership"),
    )
    purpose = models.CharField(_("message"), max_length=16, choices=TextPurpose.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("E-mail only.")
    )
    body = models.TextField(_("text"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["dealership", "purpose", "channel", "language"]
        verbose_name = _("message text")
        verbose_name_plural = _("message texts")
        constraints = [
            models.UniqueConstraint(
                fields=["dealership", "purpose", "channel", "language"],
                name="message_text_once_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.get_channel_display()} · {self.language}"
