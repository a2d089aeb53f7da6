"""Sending one message exactly once, and what follows from the outcome.

The send task calls `send_message(id)`. It claims the queued row with a conditional
UPDATE (queued → sending) and goes on only if it changed one row, so a task delivered
twice, a second worker or a retry racing the first attempt all find nothing to do.
A message found "sending" is never sent again: if its worker died mid-send, nobody
knows whether the customer got it, and `sweep` surfaces it to staff instead.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from notifications import compose, schedule, texts
from notifications.models import Message
from notifications.transports import (
    TWILIO_UNSUBSCRIBED,
    DeliveryUnknown,
    TransportError,
    transport_for,
)
from workshop.models import Appointment, AppointmentEvent, Channel, Customer, OnlineCheckIn

log = logging.getLogger(__name__)

Status = Message.Status
Purpose = Message.Purpose
Invitation = OnlineCheckIn.InvitationStatus

INTERRUPTED = "Interrupted while sending"
# Why a message was not sent or failed, kept in `Message.error` in English; the fixed
# ones are in the catalogue and translated where staff read them. Provider errors are not.
OPTED_OUT = gettext_noop("The customer opted out of SMS")
NO_ADDRESS: dict[str, str] = {
    Channel.SMS: gettext_noop("No mobile number for the customer"),
    Channel.EMAIL: gettext_noop("No e-mail address for the customer"),
}
NOT_SCHEDULED: dict[str, str] = {
    Appointment.Status.CANCELLED: gettext_noop("Not sent: the appointment was cancelled."),
    Appointment.Status.DONE: gettext_noop("Not sent: the appointment is done."),
    Appointment.Status.NO_SHOW: gettext_noop("Not sent: the customer did not come."),
}
STARTED = gettext_noop("Not sent: the appointment had started.")
OPENED_MEANWHILE = gettext_noop("Not sent: the customer opened their link meanwhile.")
MOVED = gettext_noop("Not sent: the appointment moved; the invitation goes out when it is due.")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP"}

# Which invitation states each new one may replace; anything else is newer news.
_INVITATION_FROM: dict[str, list[str]] = {
    Invitation.SENT: [Invitation.NOT_DUE, Invitation.QUEUED, Invitation.FAILED],
    Invitation.DELIVERED: [
        Invitation.NOT_DUE,
        Invitation.QUEUED,
        Invitation.SENT,
        Invitation.FAILED,
    ],
    Invitation.FAILED: [Invitation.QUEUED],
    Invitation.UNREACHABLE: [
        Invitation.NOT_DUE,
        Invitation.QUEUED,
        Invitation.SENT,
        Invitation.FAILED,
    ],
    Invitation.NOT_DUE: [Invitation.QUEUED],
}


def retry_delay(attempts: int) -> int:
    """Exponential backoff: the base, then twice that, four times... after each attempt."""
    return settings.MESSAGE_RETRY_SECONDS * 2 ** max(attempts - 1, 0)


def _set_invitation(appointment_id: int, status: str, now: datetime | None = None) -> int:
    changes: dict[str, object] = {"invitation_status": status}
    if status == Invitation.SENT and now is not None:
        changes["invited_at"] = Coalesce("invited_at", now)
    return OnlineCheckIn.objects.filter(
        appointment_id=appointment_id, invitation_status__in=_INVITATION_FROM[status]
    ).update(**changes)


def _load(message_id: int) -> Message:
    # The vehicle is left out: only a re-render needs it, and every join costs the
    # planner time on each of the many sends.
    return Message.objects.select_related(
        "appointment__dealership", "appointment__customer", "appointment__checkin"
    ).get(pk=message_id)


# --- Sending -------------------------------------------------------------------------


def send_message(message_id: int, now: datetime | None = None) -> int | None:
    """Sends a queued message once. Returns seconds to wait before trying again after
    a passing failure, else None (sent, failed for good, not ours, or not needed)."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, direction=Message.Direction.OUT, status=Status.QUEUED
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, attempted_at=now)
    if claimed != 1:
        return None
    message = _load(message_id)
    appointment = message.appointment
    assert appointment is not None

    reason = _reason_not_to_send(message, appointment, now)
    if reason:
        _cancel(message, reason)
        return None
    if not message.keeps_its_recipient and not appointment.customer.can_receive(message.channel):
        why = (
            OPTED_OUT
            if message.channel == Channel.SMS and appointment.customer.phone
            else NO_ADDRESS[message.channel]
        )
        fail(message, why, from_statuses=[Status.SENDING], now=now)
        return None
    if not message.keeps_its_recipient and (
        appointment.updated_at > message.queued_at
        or message.recipient != compose.address_for(appointment.customer, message.channel)
    ):
        # Moved, or the customer changed their address, since the text was written.
        confirmation = None
        if message.purpose == Purpose.CONFIRMATION:
            confirmation = texts.confirmation_for(appointment.checkin, message.language)
        compose.rerender(message, appointment, confirmation)
        message.save(update_fields=["language", "recipient", "subject", "body", "html_body"])

    try:
        result = transport_for(message.channel).send(message)
    except DeliveryUnknown as error:
        Message.objects.filter(pk=message.pk).update(error=f"{INTERRUPTED}? {error}")
        log.warning("Message %s: delivery unknown, not retried: %s", message.pk, error)
        return None
    except TransportError as error:
        return _after_failure(message, error, now)

    with transaction.atomic():
        done = Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.SENT, sent_at=now, provider_id=result.provider_id, error=""
        )
        if not done:
            # A status callback got here first and already moved the message on.
            Message.objects.filter(pk=message.pk).update(
                provider_id=result.provider_id, sent_at=Coalesce("sent_at", now)
            )
        if message.purpose == Purpose.INVITATION:
            _set_invitation(appointment.pk, Invitation.SENT, now)
    return None


def _reason_not_to_send(message: Message, appointment: Appointment, now: datetime) -> str:
    if appointment.status != Appointment.Status.SCHEDULED:
        return NOT_SCHEDULED[appointment.status]
    if appointment.starts_at <= now:
        return STARTED
    if message.purpose == Purpose.REMINDER and appointment.checkin.opened_at is not None:
        return OPENED_MEANWHILE
    if (
        message.purpose == Purpose.INVITATION
        and message.fallback_for_id is None
        and appointment.updated_at > message.queued_at
        and not schedule.invitation_due(appointment, now)
    ):
        return MOVED
    return ""


def _cancel(message: Message, reason: str) -> None:
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.CANCELLED, error=reason
        )
        if message.purpose == Purpose.INVITATION:
            # Back to the dispatcher, which sends it if and when it falls due again.
            OnlineCheckIn.objects.filter(
                appointment_id=message.appointment_id,  # type: ignore[misc]
                invitation_status=Invitation.QUEUED,
            ).update(invitation_status=Invitation.NOT_DUE, invitation_claim=None)


def _after_failure(message: Message, error: TransportError, now: datetime) -> int | None:
    attempts = message.attempts  # loaded after the claim counted this attempt
    if not error.permanent and attempts < settings.MESSAGE_MAX_ATTEMPTS:
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.QUEUED, error=f"Attempt {attempts}: {error}"
        )
        return retry_delay(attempts)
    reason = str(error) if error.permanent else f"Gave up after {attempts} attempts: {error}"
    fail(
        message,
        reason,
        from_statuses=[Status.SENDING],
        now=now,
        opted_out=error.code == TWILIO_UNSUBSCRIBED,
    )
    return None


# --- Failure, fallback, not reachable ---------------------------------------------------


def fail(
    message: Message,
    reason: str,
    *,
    from_statuses: list[str],
    now: datetime | None = None,
    opted_out: bool = False,
) -> Message | None:
    """Marks the message failed for good and falls back to the customer's other channel,
    or, with none left, flags the customer as not reachable. Returns the fallback."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, status__in=from_statuses).update(
            status=Status.FAILED, failed_at=now, error=reason
        )
        if not changed:
            return None  # someone else recorded the outcome first
        message.status, message.failed_at, message.error = Status.FAILED, now, reason
        appointment = Appointment.objects.select_related(
            "dealership", "customer", "vehicle", "checkin"
        ).get(pk=message.appointment_id)  # type: ignore[misc]
        if opted_out and message.channel == Channel.SMS:
            opt_out(appointment.customer.phone, appointment, now, detail=reason)
            appointment.customer.refresh_from_db()
        return _follow_up(message, appointment, reason, now)


def _channels_tried(message: Message) -> set[str]:
    tried = {message.channel}
    previous = message.fallback_for_id
    while previous is not None:
        channel, previous = Message.objects.values_list("channel", "fallback_for_id").get(
            pk=previous
        )
        tried.add(channel)
    return tried


def _follow_up(
    message: Message, appointment: Appointment, reason: str, now: datetime
) -> Message | None:
    if message.keeps_its_recipient:
        return None  # its failure shows on the timeline; the customer is reachable as before
    if appointment.status == Appointment.Status.SCHEDULED and appointment.starts_at > now:
        tried = _channels_tried(message)
        remaining = [c for c in appointment.customer.channels_to_try() if c not in tried]
        if remaining:
            confirmation = None
            if message.purpose == Purpose.CONFIRMATION:
                confirmation = texts.confirmation_for(
                    appointment.checkin, texts.language_for(appointment)
                )
            fallback = compose.build_message(
                appointment,
                message.purpose,
                remaining[0],
                now=now,
                overrides=compose.overrides_for([appointment.dealership_id]),
                confirmation=confirmation,
                fallback_for=message,
            )
            try:
                with transaction.atomic():
                    fallback.save()
            except IntegrityError:
                return None  # another failure report made the fallback already
            compose.enqueue([fallback])
            return fallback
    # Written for the dealership's staff, in its language: which message, and why.
    with translation.override(appointment.dealership.language):
        if message.channel == Channel.SMS:
            which = gettext("%(purpose)s by SMS: %(reason)s")
        else:
            which = gettext("%(purpose)s by e-mail: %(reason)s")
        detail = which % {"purpose": message.get_purpose_display(), "reason": gettext(reason)}
    AppointmentEvent.objects.create(
        appointment=appointment,
        at=now,
        kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE,
        actor=AppointmentEvent.Actor.SYSTEM,
        detail=detail,
    )
    if message.purpose == Purpose.INVITATION:
        _set_invitation(appointment.pk, Invitation.UNREACHABLE)
    return None


# --- Provider callbacks ------------------------------------------------------------------

# Twilio's message statuses and ours.
_TWILIO_STATUS = {
    "accepted": Status.SENT,
    "scheduled": Status.SENT,
    "queued": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}


def record_status(
    message: Message, provider_status: str, *, error_code: str = "", provider_id: str = ""
) -> None:
    """Applies a provider's status report. Reports can arrive late, twice or out of
    order: a message only moves forward (sending → sent → delivered or failed)."""
    now = timezone.now()
    status = _TWILIO_STATUS.get(provider_status.lower())
    if status is None or message.direction != Message.Direction.OUT:
        return
    # Ours was a guess ("interrupted"); the provider's word replaces it.
    guessed = Q(status=Status.FAILED, error__startswith=INTERRUPTED)
    id_changes = {"provider_id": provider_id} if provider_id and not message.provider_id else {}
    if status == Status.FAILED:
        reason = f"Twilio: {provider_status}" + (f", error {error_code}" if error_code else "")
        fail(
            message,
            reason,
            from_statuses=[Status.SENDING, Status.SENT],
            now=now,
            opted_out=error_code == TWILIO_UNSUBSCRIBED,
        )
        if id_changes:
            Message.objects.filter(pk=message.pk).update(**id_changes)
        return
    with transaction.atomic():
        if status == Status.DELIVERED:
            changed = Message.objects.filter(
                Q(status__in=[Status.SENDING, Status.SENT]) | guessed, pk=message.pk
            ).update(
                status=Status.DELIVERED,
                delivered_at=now,
                sent_at=Coalesce("sent_at", now),
                error="",
                **id_changes,
            )
            new_invitation = Invitation.DELIVERED
        else:
            changed = Message.objects.filter(
                Q(status=Status.SENDING) | guessed, pk=message.pk
            ).update(status=Status.SENT, sent_at=now, error="", **id_changes)
            new_invitation = Invitation.SENT
        if changed and message.purpose == Purpose.INVITATION:
            _set_invitation(message.appointment_id, new_invitation, now)  # type: ignore[arg-type]


# --- Inbound SMS ------------------------------------------------------------------------


def opt_out(phone: object, appointment: Appointment | None, now: datetime, detail: str) -> int:
    """No more SMS to this number, for every customer who has it."""
    changed = Customer.objects.filter(phone=str(phone), sms_opted_out_at__isnull=True).update(
        sms_opted_out_at=now
    )
    if changed and appointment is not None:
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=AppointmentEvent.Kind.SMS_OPT_OUT,
            actor=AppointmentEvent.Actor.CUSTOMER,
            detail=detail,
        )
    return changed


def _opt_in(phone: str, appointment: Appointment | None, now: datetime) -> None:
    opted_out = list(
        Customer.objects.filter(phone=phone, sms_opted_out_at__isnull=False).values_list(
            "pk", "sms_opted_out_at"
        )
    )
    Customer.objects.filter(pk__in=[pk for pk, _at in opted_out]).update(sms_opted_out_at=None)
    if opted_out and appointment is not None:
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=AppointmentEvent.Kind.CONTACT_CHANGED,
            actor=AppointmentEvent.Actor.CUSTOMER,
            field="sms_opted_out_at",
            old_value=str(opted_out[0][1]),
            new_value="",
            detail=AppointmentEvent.OPTED_IN_AGAIN,
        )


def record_inbound(*, sender: str, to: str, body: str, provider_id: str) -> Message:
    """An SMS from a customer: on the timeline of the appointment we last wrote them
    about (else their latest appointment); STOP and START change whether we may text."""
    now = timezone.now()
    if provider_id:
        existing = Message.objects.filter(
            direction=Message.Direction.IN, provider_id=provider_id
        ).first()
        if existing:
            return existing  # Twilio retried the webhook
    appointment, customer = _match_sender(sender)
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    appointment=appointment,
                    customer=customer,
                    channel=Channel.SMS,
                    direction=Message.Direction.IN,
                    purpose=Purpose.REPLY,
                    recipient=to,
                    sender=sender,
                    body=body,
                    status=Status.RECEIVED,
                    queued_at=now,
                    received_at=now,
                    provider_id=provider_id,
                )
        except IntegrityError:
            return Message.objects.get(direction=Message.Direction.IN, provider_id=provider_id)
        keyword = body.strip().upper()
        if keyword in STOP_WORDS:
            opt_out(sender, appointment, now, detail=body.strip())  # the word they sent
        elif keyword in START_WORDS:
            _opt_in(sender, appointment, now)
    return message


def _match_sender(phone: str) -> tuple[Appointment | None, Customer | None]:
    last = (
        Message.objects.filter(
            direction=Message.Direction.OUT,
            channel=Channel.SMS,
            recipient=phone,
            appointment__isnull=False,
        )
        .select_related("appointment", "customer")
        .order_by("-queued_at", "-pk")
        .first()
    )
    if last is not None:
        return last.appointment, last.customer
    appointment = (
        Appointment.objects.filter(customer__phone=phone)
        .select_related("customer")
        .order_by("-starts_at")
        .first()
    )
    if appointment is not None:
        return appointment, appointment.customer
    return None, Customer.objects.filter(phone=phone).first()


# --- The sweep ---------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> tuple[int, int]:
    """Surfaces messages stuck in "sending" and re-queues ones whose task was lost.

    Returns (stuck, requeued). Re-queueing is safe: the send task's claim lets only
    one of any duplicates through.
    """
    now = now or timezone.now()
    stuck_before = now - timedelta(minutes=settings.MESSAGE_SENDING_TIMEOUT_MINUTES)
    stuck = list(
        Message.objects.filter(status=Status.SENDING, attempted_at__lt=stuck_before).values_list(
            "pk", "purpose", "appointment_id"
        )[:1000]
    )
    if stuck:
        with transaction.atomic():
            Message.objects.filter(
                pk__in=[pk for pk, _p, _a in stuck], status=Status.SENDING
            ).update(
                status=Status.FAILED,
                failed_at=now,
                error=(
                    f"{INTERRUPTED}: it may or may not have reached the customer, so it "
                    "is not sent again. Resend the invitation if the customer has not "
                    "opened their link."
                ),
            )
            OnlineCheckIn.objects.filter(
                appointment_id__in=[a for _pk, p, a in stuck if p == Purpose.INVITATION],
                invitation_status=Invitation.QUEUED,
            ).update(invitation_status=Invitation.FAILED)
        log.warning("Messages stuck while sending, surfaced: %s", [pk for pk, _p, _a in stuck])

    longest_backoff = retry_delay(settings.MESSAGE_MAX_ATTEMPTS)
    lost_before = now - max(timedelta(minutes=15), timedelta(seconds=2 * longest_backoff))
    lost = list(
        Message.objects.filter(status=Status.QUEUED)
        .annotate(last_activity=Coalesce("attempted_at", "queued_at"))
        .filter(last_activity__lt=lost_before)
        .values_list("pk", flat=True)[:1000]
    )
    compose.enqueue([Message(pk=pk) for pk in lost])
    return len(stuck), len(lost)
