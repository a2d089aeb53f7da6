"""Sending one message exactly once, and what follows from the outcome.

The send task calls `send_message(id)`. It claims the queued row with a conditional
UPDATE (queued → sending) and goes on only if it changed one row, so a task delivered
twice, a second worker, a retry racing the first attempt or a task the sweep queued
again all find nothing to do. A message found "sending" is never sent again as it is:
if its worker died mid-send or the provider did not answer, nobody knows whether the
customer got it. `sweep` asks the provider (`resolve_unknown`): a message it has is
recorded as sent, one it never got is queued again, and sent once. E-mail, which
cannot be asked, is surfaced to staff instead.
"""

import contextlib
import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from notifications import compose, schedule, texts, transports
from notifications.models import Message
from notifications.transports import (
    TWILIO_UNSUBSCRIBED,
    DeliveryUnknown,
    TransportError,
    transport_for,
)
from workshop.booking import MOVED_BEFORE_SENDING
from workshop.models import Appointment, AppointmentEvent, Channel, Customer, OnlineCheckIn

log = logging.getLogger(__name__)

Status = Message.Status
Purpose = Message.Purpose
Invitation = OnlineCheckIn.InvitationStatus

INTERRUPTED = "Interrupted while sending"
# The sweep asks the provider about this many messages with an unknown outcome per run,
# and requeues at most this many whose task was lost.
RESOLVE_BATCH = 100
REQUEUE_BATCH = 1000
# A provider that cannot say for this long whether it has a message: staff decide.
GIVE_UP_ASKING = timedelta(hours=1)
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
MOVED = MOVED_BEFORE_SENDING
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
    try:
        message = _load(message_id)
        appointment = message.appointment
        assert appointment is not None

        reason = _reason_not_to_send(message, appointment, now)
        if reason:
            _cancel(message, reason)
            return None
        if not message.keeps_its_recipient and not appointment.customer.can_receive(
            message.channel
        ):
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
    except DatabaseError:
        # Nothing has gone out: let go of the claim, so the task's retry can take it.
        with contextlib.suppress(DatabaseError):
            Message.objects.filter(pk=message_id, status=Status.SENDING, attempted_at=now).update(
                status=Status.QUEUED, attempts=F("attempts") - 1
            )
        raise

    try:
        result = transport_for(message.channel).send(message)
    except DeliveryUnknown as error:
        Message.objects.filter(pk=message.pk).update(error=f"{INTERRUPTED}? {error}")
        log.warning("Message %s: delivery unknown, left to the sweep to ask: %s", message.pk, error)
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


class Swept(NamedTuple):
    requeued: int  # queued, but their task was lost: queued again
    found: int  # no answer from the provider, which has them: recorded as sent
    resent: int  # no answer from the provider, which never got them: queued again
    failed: int  # no answer and no way to ask (e-mail), or no attempts left: failed
    unresolved: int  # the provider cannot tell us now: asked again next time


class Outcome(StrEnum):
    FOUND = "found"
    RESENT = "resent"
    FAILED = "failed"
    UNRESOLVED = "unresolved"


def sweep(now: datetime | None = None) -> Swept:
    """Recovers messages whose send was lost; run by beat every SWEEP_SECONDS.

    - "sending" for longer than MESSAGE_SENDING_TIMEOUT_MINUTES: the worker died or the
      provider never answered. `resolve_unknown` asks the provider, a few at a time, and
      stops asking for this run at the first question it cannot answer.
    - "queued" for REQUEUE_AFTER_SECONDS past when its task should have run (at once, or
      after its retry's backoff): the task was lost (the broker was down when it was
      queued, or dropped it). Queued again; a task too many finds nothing to claim.
    """
    now = now or timezone.now()
    stuck_before = now - timedelta(minutes=settings.MESSAGE_SENDING_TIMEOUT_MINUTES)
    stuck = Message.objects.filter(status=Status.SENDING, attempted_at__lt=stuck_before)
    outcomes: list[Outcome] = []
    for message in stuck.order_by("attempted_at")[:RESOLVE_BATCH]:
        outcomes.append(resolve_unknown(message, now))
        if outcomes[-1] == Outcome.UNRESOLVED:
            break

    lost = _lost_queued(now)
    compose.enqueue([Message(pk=pk) for pk in lost])
    return Swept(
        requeued=len(lost),
        found=outcomes.count(Outcome.FOUND),
        resent=outcomes.count(Outcome.RESENT),
        failed=outcomes.count(Outcome.FAILED),
        unresolved=outcomes.count(Outcome.UNRESOLVED),
    )


def _lost_queued(now: datetime) -> list[int]:
    """Queued messages whose task should have run more than REQUEUE_AFTER_SECONDS ago:
    at once for a new one, after its backoff for one waiting to be tried again."""
    grace = timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    overdue = Q(attempts=0, queued_at__lt=now - grace)
    for attempts in range(1, settings.MESSAGE_MAX_ATTEMPTS + 1):
        backoff = timedelta(seconds=retry_delay(attempts))
        overdue |= Q(attempts=attempts, attempted_at__lt=now - grace - backoff)
    return list(
        Message.objects.filter(overdue, status=Status.QUEUED).values_list("pk", flat=True)[
            :REQUEUE_BATCH
        ]
    )


def resolve_unknown(message: Message, now: datetime | None = None) -> Outcome:
    """Settles a message left "sending" with no outcome, without ever sending it twice.

    The provider is asked whether it has the message (by the id it gave, or by
    recipient, text and time). If it has, the message is recorded as the provider
    reports it (sent, delivered, failed). If it never got it, the message goes back to
    "queued" and is sent again, once: the conditional UPDATE only matches the attempt
    we asked about, and the send task claims it as any other. A channel that cannot be
    asked (e-mail) is marked failed for staff to see; nothing is sent again.
    """
    now = now or timezone.now()
    finder = transports.finder_for(message.channel)
    if finder is None:
        _surface(message, now)
        return Outcome.FAILED
    try:
        candidates = finder.find(message)
    except TransportError as error:
        log.warning("Message %s: the provider cannot say whether it has it: %s", message.pk, error)
        if message.attempted_at and message.attempted_at < now - GIVE_UP_ASKING:
            _surface(message, now)
            return Outcome.FAILED
        return Outcome.UNRESOLVED
    # A text of ours with the same words to the same number may be another row's.
    recorded = set(
        Message.objects.filter(provider_id__in=[found.provider_id for found in candidates])
        .exclude(pk=message.pk)
        .values_list("provider_id", flat=True)
    )
    ours = next((found for found in candidates if found.provider_id not in recorded), None)
    if ours is not None:
        record_status(message, ours.status or "sent", provider_id=ours.provider_id)
        log.info(
            "Message %s: the provider has it as %s (%s)", message.pk, ours.provider_id, ours.status
        )
        return Outcome.FOUND
    if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        fail(
            message,
            f"Gave up after {message.attempts} attempts: the provider never got it",
            from_statuses=[Status.SENDING],
            now=now,
        )
        return Outcome.FAILED
    requeued = Message.objects.filter(
        pk=message.pk, status=Status.SENDING, attempted_at=message.attempted_at
    ).update(status=Status.QUEUED, error=f"Attempt {message.attempts}: the provider never got it")
    if requeued:
        compose.enqueue([message])
    return Outcome.RESENT


def _surface(message: Message, now: datetime) -> None:
    with transaction.atomic():
        surfaced = Message.objects.filter(
            pk=message.pk, status=Status.SENDING, attempted_at=message.attempted_at
        ).update(
            status=Status.FAILED,
            failed_at=now,
            error=(
                f"{INTERRUPTED}: it may or may not have reached the customer, so it "
                "is not sent again. Resend the invitation if the customer has not "
                "opened their link."
            ),
        )
        if surfaced and message.purpose == Purpose.INVITATION:
            OnlineCheckIn.objects.filter(
                appointment_id=message.appointment_id,  # type: ignore[misc]
                invitation_status=Invitation.QUEUED,
            ).update(invitation_status=Invitation.FAILED)
    if surfaced:
        log.warning("Message %s: interrupted while sending, surfaced to staff", message.pk)
