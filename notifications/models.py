"""Messages to and from customers, their delivery, and the texts managers override."""

import base64
import re
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from workshop.models import (
    LANGUAGE_CHOICES,
    Appointment,
    Attachment,
    Channel,
    Customer,
    Dealership,
)


def new_callback_key() -> str:
    return secrets.token_urlsafe(16)


class Purpose(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    REMINDER = "reminder", _("Reminder")
    CONFIRMATION = "confirmation", _("Confirmation")
    REPLY = "reply", _("Reply")
    # "Reply YES or NO": asks the customer to confirm, a day or two before.
    CONFIRM_REQUEST = "confirm_request", _("Request to confirm")
    # The short answer to a customer who confirmed or declined the appointment.
    CONFIRMED = "ack_confirmed", _("Thanks for confirming")
    DECLINED = "ack_declined", _("Noted that the customer cannot come")
    # To the former e-mail address or mobile number, after the customer changed it.
    CONTACT_CHANGED = "contact_changed", _("Contact details changed")
    # After the first unanswered follow-up call (`followups.attempts`).
    FOLLOWUP_TRIED = "followup_tried", _("We tried to call")
    # The visit (`workshop.visit.tell`): each step the customer hears about, once.
    BOOKED = "booked", _("Booking confirmation")
    MOVED = "moved", _("Appointment moved")
    CANCELLED = "cancelled", _("Cancelled by the workshop or DMS")
    CANCEL_ACK = "ack_cancelled", _("Cancellation received")
    ARRIVED = "arrived", _("Car arrived")
    READY = "ready", _("Car ready")
    COLLECTED = "collected", _("Thanks for the visit")
    NO_SHOW = "no_show", _("Missed appointment")
    REVIEW = "review_request", _("Review request")


# The visit's messages, and the visit state in which each is still news: written when
# the step happens, each goes out while the appointment is in the state it announces
# (`notifications.delivery`), whatever else would hold other messages back.
VISIT_PURPOSES: dict[str, frozenset[str]] = {
    Purpose.BOOKED: frozenset({Appointment.Status.SCHEDULED}),
    Purpose.MOVED: frozenset({Appointment.Status.SCHEDULED}),
    Purpose.CANCELLED: frozenset({Appointment.Status.CANCELLED}),
    Purpose.CANCEL_ACK: frozenset({Appointment.Status.CANCELLED}),
    Purpose.ARRIVED: frozenset({Appointment.Status.ARRIVED}),
    Purpose.READY: frozenset({Appointment.Status.READY}),
    Purpose.COLLECTED: frozenset({Appointment.Status.DONE}),
    Purpose.NO_SHOW: frozenset({Appointment.Status.NO_SHOW}),
    Purpose.REVIEW: frozenset({Appointment.Status.DONE}),
}
# Staff replies (`conversation.send_reply`) go out before the visit, while the car is
# with us and after it was collected; not once the booking was cancelled or missed.
REPLIES_CLOSED = frozenset({Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW})


class MessageChannel(models.TextChoices):
    """How a message travelled: the customer's channels, and for what they write on the
    check-in page, the page itself (nothing is sent there: they read it there)."""

    SMS = Channel.SMS.value, Channel.SMS.label
    EMAIL = Channel.EMAIL.value, Channel.EMAIL.label
    PORTAL = "portal", _("Check-in page")


class MessageQuerySet(models.QuerySet["Message"]):
    def for_appointment(self, appointment: Appointment):
        return self.filter(appointment=appointment)

    def outbound(self):
        return self.filter(direction=Message.Direction.OUT)

    def inbound(self):
        return self.filter(direction=Message.Direction.IN)

    def unread(self):
        """From the customer, about an appointment, and nobody in the office read it:
        it pins its appointment (`Appointment.objects.pinned`)."""
        return self.inbound().filter(read_at__isnull=True, appointment__isnull=False)

    def unmatched(self, dealership_ids):
        """The dealerships' inbox: messages we could not put with an appointment."""
        return self.inbound().filter(appointment__isnull=True, dealership_id__in=dealership_ids)


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
    channel = models.CharField(_("channel"), max_length=8, choices=MessageChannel.choices)
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
    # Inbound: the dealership it came to (its number, or the customer's), for the inbox
    # of messages that matched no appointment.
    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dealership"),
    )
    # Inbound: when someone in the office read it (or answered, or it was a one-word
    # answer the system took); until then it pins the appointment.
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # An out-of-office or other automatic reply (the e-mail side flags them): it never
    # confirms or declines anything.
    auto_reply = models.BooleanField(_("automatic reply"), default=False)
    # Outbound replies typed by staff: who wrote it.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    # Inbound pictures: the provider's addresses (one a line) until they are fetched
    # into `remark`, the check-in item that holds them as attachments.
    media_urls = models.TextField(_("media addresses"), blank=True)
    # No database constraint and nothing done on delete: deleting a check-in item (a
    # customer's draft) must not cost a query per delete to look for messages; a
    # message whose remark is gone simply shows no pictures.
    remark = models.OneToOneField(
        "workshop.CheckInItem",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="message",
        verbose_name=_("photos as a remark"),
    )
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
            # Pinned appointments and the nav's count: unread messages from customers.
            models.Index(
                fields=["appointment"],
                name="message_unread_idx",
                condition=Q(direction="in", read_at__isnull=True, appointment__isnull=False),
            ),
            # A dealership's inbox of messages that matched no appointment.
            models.Index(
                fields=["dealership", "queued_at"],
                name="message_unmatched_idx",
                condition=Q(direction="in", appointment__isnull=True),
            ),
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
    def is_free_text(self) -> bool:
        """Typed by staff, not rendered from a template: never re-rendered."""
        return self.purpose == Purpose.REPLY

    @property
    def is_visit_news(self) -> bool:
        """One of the visit's messages (`VISIT_PURPOSES`): written with the facts of its
        step (a staff note, a reason), so never re-rendered, only re-addressed."""
        return self.purpose in VISIT_PURPOSES

    @property
    def is_unread(self) -> bool:
        return not self.is_outbound and self.read_at is None

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
        BOOKED = Purpose.BOOKED.value, Purpose.BOOKED.label
        MOVED = Purpose.MOVED.value, Purpose.MOVED.label
        CANCELLED = Purpose.CANCELLED.value, Purpose.CANCELLED.label
        CANCEL_ACK = Purpose.CANCEL_ACK.value, Purpose.CANCEL_ACK.label
        ARRIVED = Purpose.ARRIVED.value, Purpose.ARRIVED.label
        READY = Purpose.READY.value, Purpose.READY.label
        COLLECTED = Purpose.COLLECTED.value, Purpose.COLLECTED.label
        NO_SHOW = Purpose.NO_SHOW.value, Purpose.NO_SHOW.label
        REVIEW = Purpose.REVIEW.value, Purpose.REVIEW.label
        FOLLOWUP_TRIED = Purpose.FOLLOWUP_TRIED.value, Purpose.FOLLOWUP_TRIED.label

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


def new_reply_key() -> str:
    """120 random bits in lower-case base32: a mailbox may lower-case the address."""
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


class ReplyAddress(models.Model):
    """The secret in the Reply-To of every e-mail about one appointment
    (`notifications.reply_to`): a reply to it is this appointment's."""

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        related_name="reply_address",
        verbose_name=_("appointment"),
    )
    key = models.CharField(_("key"), max_length=32, unique=True, default=new_reply_key)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reply address")
        verbose_name_plural = _("reply addresses")

    def __str__(self) -> str:
        return f"reply address {self.appointment}"


def raw_email_path(instance: "InboundEmail", filename: str) -> str:
    return f"inbound-email/{secrets.token_hex(16)}.eml"


class InboundEmail(models.Model):
    """What an inbound e-mail `Message` came with: the original as received, its full
    text (the message's `body` is only what is new), and what kind of mail it is."""

    class Kind(models.TextChoices):
        NORMAL = "normal", pgettext_lazy("e-mail kind", "Written by a person")
        AUTO_REPLY = "auto_reply", pgettext_lazy("e-mail kind", "Automatic reply")
        BOUNCE = "bounce", pgettext_lazy("e-mail kind", "Not delivered (bounce)")

    message = models.OneToOneField(
        Message,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="inbound_email",
        verbose_name=_("message"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    mail_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=998, blank=True)
    # Every address it was for (To, Cc, Delivered-To, the envelope's), one a line.
    recipients = models.TextField(_("recipients"), blank=True)
    # The reply key it was addressed to, also when it matched no appointment.
    reply_key = models.CharField(_("reply key"), max_length=64, blank=True)
    # The dealership the mail was for, as far as its addresses say (unmatched mail too).
    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_emails",
        verbose_name=_("dealership"),
    )
    full_text = models.TextField(_("full text"), blank=True)
    raw = models.FileField(_("original"), upload_to=raw_email_path, max_length=255)
    # A bounce: the message of ours that it reports as not delivered.
    bounced = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bounces",
        verbose_name=_("bounced message"),
    )

    class Meta:
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message.subject}"

    @property
    def is_automatic(self) -> bool:
        """An auto-reply or a bounce: never read as the customer's answer."""
        return self.kind != self.Kind.NORMAL


def message_attachment_path(instance: "MessageAttachment", filename: str) -> str:
    # The sender's file name is kept in `original_name`, never in the storage key.
    return f"messages/{instance.message_id}/{secrets.token_hex(16)}"


class MessageAttachment(models.Model):
    """A photo or video a customer sent with a message, or one we refused (kept with
    the reason; the original e-mail still has its bytes)."""

    class State(models.TextChoices):
        READY = "ready", pgettext_lazy("photo or video state", "Ready")
        REJECTED = "rejected", pgettext_lazy("photo or video state", "Rejected")

    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("message"),
    )
    file = models.FileField(_("file"), upload_to=message_attachment_path, max_length=255)
    kind = models.CharField(_("kind"), max_length=8, choices=Attachment.Kind.choices, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    original_name = models.CharField(_("file name"), max_length=255)
    # One of the REASON_* texts in portal/uploads/refusals.py, in English; translated when shown.
    rejection_reason = models.CharField(_("why it was not accepted"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message attachment")
        verbose_name_plural = _("message attachments")

    def __str__(self) -> str:
        return self.original_name


class QuickReply(models.Model):
    """A dealership's ready answer for the conversation, per language, with the same
    `{placeholders}` as its message texts; staff pick it and may edit before sending."""

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="quick_replies",
        verbose_name=_("dealership"),
    )
    name = models.CharField(_("name"), max_length=60, help_text=_("What staff pick it by."))
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    body = models.TextField(_("text"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        constraints = [
            models.UniqueConstraint(
                fields=["dealership", "name", "language"], name="quick_reply_once_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"
