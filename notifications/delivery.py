"""Sending each message exactly once, and what follows from the outcome.

The send task calls `send_messages(ids)` for a batch (`send_message(id)` is a batch of
one). It claims the queued rows with one conditional UPDATE (queued → sending, with the
batch's claim) and sends only what it changed, so a task delivered twice, a second
worker, a retry racing the first attempt or a task the sweep queued again all find
nothing to do. Outcomes are recorded a few at a time, in order (see `send_messages`),
so after a worker dies the sweep knows which of its batch may have gone out
(`release_unstarted`). A message found "sending" is never sent again as it is: if its
worker died mid-send or the provider did not answer, nobody knows whether the customer
got it. `sweep` asks the provider (`resolve_unknown`): a message it has is recorded as
sent, one it never got is queued again, and sent once. E-mail, which cannot be asked,
is surfaced to staff instead.

What a provider's statuses and error codes mean is the transport's business
(`transports.TwilioTransport.report`, `TransportError.permanent` / `.opted_out`).
"""

import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from config.celery import publish
from followups import opening as follow_ups
from notifications import compose, schedule, texts, transports, visit_news
from notifications.models import REPLIES_CLOSED, VISIT_PURPOSES, Message
from notifications.transports import DeliveryUnknown, TransportError, transport_for
from workshop.daylist import list_changed
from workshop.models import (
    Appointment,
    AppointmentEvent,
    Channel,
    Customer,
    Dealership,
    OnlineCheckIn,
)
from workshop.visit import MOVED_BEFORE_SENDING, NOT_SENT

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
NOT_SCHEDULED = NOT_SENT
STARTED = gettext_noop("Not sent: the appointment had started.")
OPENED_MEANWHILE = gettext_noop("Not sent: the customer opened their link meanwhile.")
ANSWERED_MEANWHILE = gettext_noop("Not sent: the customer answered meanwhile.")
MOVED = MOVED_BEFORE_SENDING
NO_LONGER_NEWS = gettext_noop("Not sent: the appointment had moved on to another step.")
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


def _set_invitation(appointment: Appointment, status: str, now: datetime | None = None) -> int:
    return _set_invitations([appointment], status, now)


def _set_invitations(
    appointments: list[Appointment], status: str, now: datetime | None = None
) -> int:
    """The invitations' state moves on (never back); the lists showing them hear of it."""
    changes: dict[str, object] = {"invitation_status": status}
    if status == Invitation.SENT and now is not None:
        changes["invited_at"] = Coalesce("invited_at", now)
    changed = OnlineCheckIn.objects.filter(
        appointment__in=appointments, invitation_status__in=_INVITATION_FROM[status]
    ).update(**changes)
    if changed:
        for dealership_id in {appointment.dealership_id for appointment in appointments}:
            list_changed(dealership_id)
    return changed


# What we send is always about an appointment; only a customer's message can come without.


def _appointment_id(message: Message) -> int:
    if message.appointment_id is None:
        raise ValueError(f"Message {message.pk} is not about an appointment")
    return message.appointment_id


def _appointment(message: Message) -> Appointment:
    if message.appointment is None:
        raise ValueError(f"Message {message.pk} is not about an appointment")
    return message.appointment


# --- Sending -------------------------------------------------------------------------

# Outcomes are recorded settings.MESSAGE_RECORD_EVERY at a time (one commit), at most,
# and at least this often, so staff and the sweep see outcomes without delay.
RECORD_SECONDS = 0.5


class Sending(NamedTuple):
    """What is left to do after a batch: ids to try again after a wait (by seconds),
    and ids let go unsent at the batch's deadline, to be queued again now."""

    retry: dict[int, list[int]]
    released: list[int]


def send_message(message_id: int, now: datetime | None = None) -> int | None:
    """Sends a queued message once. Returns seconds to wait before trying again after
    a passing failure, else None (sent, failed for good, not ours, or not needed)."""
    retry = send_messages([message_id], now).retry
    return next((wait for wait, ids in retry.items() if message_id in ids), None)


def send_messages(
    message_ids: Sequence[int], now: datetime | None = None, *, deadline: float | None = None
) -> Sending:
    """Sends the queued messages among `message_ids`, each at most once.

    One conditional UPDATE claims the batch (queued → sending, marked with this batch's
    claim): a task delivered twice, a second worker or the sweep's duplicate claims
    nothing. One query loads what was claimed. Then, in id order, each goes to its
    transport, and the outcomes are recorded together, MESSAGE_RECORD_EVERY or
    RECORD_SECONDS at a time, in one transaction with the invitations' state. A message whose channel
    cannot be asked afterwards (e-mail) has its outcome recorded at once, before the
    next message goes. So if the worker dies, of the batch's messages still "sending"
    only the first MESSAGE_RECORD_EVERY in id order (up to the first that cannot be asked) can
    have reached a provider; the sweep asks about those and queues the rest again
    (`release_unstarted`). Past `deadline` (`time.monotonic()`), the messages not yet
    begun are let go (`released`), so a batch never outlives its task's time limit.
    """
    now = now or timezone.now()
    claim = uuid.uuid4()
    claimed = Message.objects.filter(
        pk__in=list(message_ids),
        direction=Message.Direction.OUT,
        status=Status.QUEUED,
        queued_at__lte=now,  # not one written for later (`visit_news.send_at`)
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, attempted_at=now, claim=claim)
    if not claimed:
        return Sending({}, [])
    try:
        messages = list(
            Message.objects.select_related(
                "appointment__dealership", "appointment__customer", "appointment__checkin"
            )
            .filter(claim=claim, pk__in=list(message_ids))
            .order_by("pk")
        )
    except DatabaseError:
        _let_go(claim)  # nothing has gone out: the task's retry can take them
        raise
    batch = _Batch(now)
    try:
        for position, message in enumerate(messages):
            if deadline is not None and time.monotonic() > deadline:
                batch.record()
                return Sending(batch.retry, _let_go(claim, [m.pk for m in messages[position:]]))
            try:
                ready = _ready_to_send(message, now)
            except DatabaseError:
                batch.record()
                _let_go(claim, [m.pk for m in messages[position:]])
                raise
            if ready:
                batch.send(message)
    finally:
        batch.record()
    return Sending(batch.retry, [])


def _let_go(claim: uuid.UUID, ids: list[int] | None = None) -> list[int]:
    """Gives claimed messages that were never handed to a transport back to the queue,
    as if never tried; returns their ids."""
    mine = Message.objects.filter(claim=claim, status=Status.SENDING)
    if ids is not None:
        mine = mine.filter(pk__in=ids)
    with contextlib.suppress(DatabaseError):
        ids = list(mine.values_list("pk", flat=True))
        mine.filter(pk__in=ids).update(status=Status.QUEUED, attempts=F("attempts") - 1, claim=None)
        return ids
    return []


def _ready_to_send(message: Message, now: datetime) -> bool:
    """Checks a claimed message still has to go, as written; records why not if not."""
    appointment = _appointment(message)
    reason = _reason_not_to_send(message, appointment, now)
    if reason:
        _cancel(message, reason)
        return False
    if not message.keeps_its_recipient and not appointment.customer.can_receive(message.channel):
        why = (
            OPTED_OUT
            if message.channel == Channel.SMS and appointment.customer.phone
            else NO_ADDRESS[message.channel]
        )
        fail(message, why, from_statuses=[Status.SENDING], now=now)
        return False
    if message.is_free_text or message.is_visit_news:
        # Typed by staff, or written with its step's facts: never re-rendered, only
        # re-addressed.
        address = compose.address_for(appointment.customer, message.channel)
        if message.recipient != address:
            message.recipient = address
            message.save(update_fields=["recipient"])
    elif not message.keeps_its_recipient and (
        appointment.updated_at > message.queued_at
        or message.recipient != compose.address_for(appointment.customer, message.channel)
    ):
        # Moved, or the customer changed their address, since the text was written.
        confirmation = None
        if message.purpose == Purpose.CONFIRMATION:
            confirmation = texts.confirmation_for(appointment.checkin, message.language)
        compose.rerender(message, appointment, confirmation)
        message.save(update_fields=["language", "recipient", "subject", "body", "html_body"])
    return True


class _Batch:
    """The outcomes of a batch's sends, recorded a few at a time (`record`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sent: list[tuple[Message, str]] = []  # with the provider's id
        self.again: list[tuple[Message, str]] = []  # with why
        self.retry: dict[int, list[int]] = {}
        self.since = time.monotonic()
        self.transports: dict[str, transports.Transport] = {}

    def send(self, message: Message) -> None:
        channel = message.channel
        if channel not in self.transports:
            self.transports[channel] = transport_for(channel)
        try:
            result = self.transports[channel].send(message)
        except DeliveryUnknown as error:
            # On its own now: the sweep asks the provider about it (`resolve_unknown`).
            Message.objects.filter(pk=message.pk).update(
                error=f"{INTERRUPTED}? {error}", claim=None
            )
            log.warning(
                "Message %s: delivery unknown, left to the sweep to ask: %s", message.pk, error
            )
            return
        except TransportError as error:
            attempts = message.attempts  # loaded after the claim counted this attempt
            if not error.permanent and attempts < settings.MESSAGE_MAX_ATTEMPTS:
                self.again.append((message, f"Attempt {attempts}: {error}"))
                self.retry.setdefault(retry_delay(attempts), []).append(message.pk)
            else:
                reason = (
                    str(error) if error.permanent else f"Gave up after {attempts} attempts: {error}"
                )
                self.record()
                fail(
                    message,
                    reason,
                    from_statuses=[Status.SENDING],
                    now=self.now,
                    opted_out=error.opted_out,
                )
                return
        else:
            self.sent.append((message, result.provider_id))
        if (
            len(self.sent) + len(self.again) >= settings.MESSAGE_RECORD_EVERY
            or time.monotonic() - self.since >= RECORD_SECONDS
            or not transports.can_ask(channel)
        ):
            self.record()

    def record(self) -> None:
        """One transaction: the sent messages and their invitations, the ones to try again."""
        sent, again = self.sent, self.again
        self.since = time.monotonic()
        if not (sent or again):
            return
        now = self.now
        with transaction.atomic():
            if sent:
                ids = [message.pk for message, _ in sent]
                provider_id = _by_pk({message.pk: sid for message, sid in sent if sid})
                done = Message.objects.filter(pk__in=ids, status=Status.SENDING).update(
                    status=Status.SENT, sent_at=now, provider_id=provider_id, error="", claim=None
                )
                if done < len(ids):
                    # A status callback got to some first and already moved them on.
                    Message.objects.filter(pk__in=ids, provider_id="").update(
                        provider_id=provider_id, sent_at=Coalesce("sent_at", now), claim=None
                    )
                invited = [
                    m.appointment
                    for m, _ in sent
                    if m.purpose == Purpose.INVITATION and m.appointment is not None
                ]
                if invited:
                    _set_invitations(invited, Invitation.SENT, now)
            for message, why in again:
                Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                    status=Status.QUEUED, error=why, claim=None
                )
        self.sent, self.again = [], []


def _by_pk(values: dict[int, str]) -> Value | Case:
    if not values:
        return Value("")
    return Case(*(When(pk=pk, then=Value(v)) for pk, v in values.items()), default=Value(""))


def _reason_not_to_send(message: Message, appointment: Appointment, now: datetime) -> str:
    if message.is_visit_news:
        # Whatever the state, as long as it is the one the message announces.
        if appointment.status in VISIT_PURPOSES[message.purpose]:
            return ""
        return NOT_SCHEDULED.get(appointment.status, NO_LONGER_NEWS)
    if message.purpose == Purpose.FOLLOWUP_TRIED:
        # We called about something that needs a person: before, during or after the visit.
        return (
            NOT_SCHEDULED[appointment.status]
            if appointment.status == Appointment.Status.CANCELLED
            else ""
        )
    if message.is_free_text:
        # Staff answering the customer, before the visit or while the car is with us.
        return NOT_SCHEDULED[appointment.status] if appointment.status in REPLIES_CLOSED else ""
    if appointment.status != Appointment.Status.SCHEDULED:
        # Arrived or ready: the visit has started, as below.
        return NOT_SCHEDULED.get(appointment.status, STARTED)
    if appointment.starts_at <= now:
        return STARTED
    if message.purpose == Purpose.REMINDER and appointment.checkin.opened_at is not None:
        return OPENED_MEANWHILE
    if message.purpose == Purpose.CONFIRM_REQUEST and appointment.confirmation:
        return ANSWERED_MEANWHILE
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
            status=Status.CANCELLED, error=reason, claim=None
        )
        if message.purpose == Purpose.INVITATION:
            # Back to the dispatcher, which sends it if and when it falls due again.
            reset = OnlineCheckIn.objects.filter(
                appointment_id=_appointment_id(message),
                invitation_status=Invitation.QUEUED,
            ).update(invitation_status=Invitation.NOT_DUE, invitation_claim=None)
            if reset:
                list_changed(_appointment(message).dealership_id)


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
        ).get(pk=_appointment_id(message))
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
    if message.keeps_its_recipient or message.is_free_text:
        # Its failure shows on the timeline and in the conversation, where staff typed it.
        return None
    if message.is_visit_news:
        still_news = appointment.status in VISIT_PURPOSES[message.purpose]
    else:
        still_news = appointment.is_upcoming(now)
    if still_news:
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
                facts=visit_news.facts_for(message, appointment),
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
        _set_invitation(appointment, Invitation.UNREACHABLE)
    if appointment.is_upcoming(now):
        follow_ups.open_follow_up(appointment, follow_ups.Reason.NOT_REACHABLE, now=now)
    return None


# --- Provider callbacks ------------------------------------------------------------------


def record_status(
    message: Message, provider_status: str, *, error_code: str = "", provider_id: str = ""
) -> None:
    """Applies a provider's status report, in the provider's words: its transport says
    what they mean (`transports.report_for`). Reports can arrive late, twice or out of
    order: a message only moves forward (sending → sent → delivered or failed)."""
    now = timezone.now()
    report = transports.report_for(message.channel, provider_status, error_code)
    if report is None or message.direction != Message.Direction.OUT:
        return
    # Ours was a guess ("interrupted"); the provider's word replaces it.
    guessed = Q(status=Status.FAILED, error__startswith=INTERRUPTED)
    id_changes = {"provider_id": provider_id} if provider_id and not message.provider_id else {}
    if report.outcome == transports.Outcome.FAILED:
        fail(
            message,
            report.reason,
            from_statuses=[Status.SENDING, Status.SENT],
            now=now,
            opted_out=report.opted_out,
        )
        if id_changes:
            Message.objects.filter(pk=message.pk).update(**id_changes)
        return
    with transaction.atomic():
        if report.outcome == transports.Outcome.DELIVERED:
            changed = Message.objects.filter(
                Q(status__in=[Status.SENDING, Status.SENT]) | guessed, pk=message.pk
            ).update(
                status=Status.DELIVERED,
                delivered_at=now,
                sent_at=Coalesce("sent_at", now),
                error="",
                claim=None,
                **id_changes,
            )
            new_invitation = Invitation.DELIVERED
        else:
            changed = Message.objects.filter(
                Q(status=Status.SENDING) | guessed, pk=message.pk
            ).update(status=Status.SENT, sent_at=now, error="", claim=None, **id_changes)
            new_invitation = Invitation.SENT
        if changed and message.purpose == Purpose.INVITATION:
            _set_invitation(_appointment(message), new_invitation, now)


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


def record_inbound(
    *, sender: str, to: str, body: str, provider_id: str, media_urls: list[str] | None = None
) -> Message:
    """An SMS from a customer, once per provider id (the provider retries webhooks).

    It joins the conversation of the sender's nearest open appointment at the dealership
    whose number it was sent to (`match_sender`); with none it waits in the dealership's
    inbox of unmatched messages. STOP and START change whether we may text; anything
    else goes to `conversation.received` (one-word answers, unread, the advisor).
    Pictures (MMS) are fetched by a task, as they can take longer than the provider
    waits for our answer.
    """
    from notifications import conversation

    now = timezone.now()
    if provider_id:
        existing = Message.objects.filter(
            direction=Message.Direction.IN, provider_id=provider_id
        ).first()
        if existing:
            return existing  # Twilio retried the webhook
    appointment, customer, dealership = match_sender(sender, to, now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    appointment=appointment,
                    customer=customer,
                    dealership=dealership,
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
                    media_urls="\n".join(media_urls or []),
                )
        except IntegrityError:
            return Message.objects.get(direction=Message.Direction.IN, provider_id=provider_id)
        keyword = body.strip().upper()
        if keyword in STOP_WORDS:
            opt_out(sender, appointment, now, detail=body.strip())  # the word they sent
            Message.objects.filter(pk=message.pk).update(read_at=now)
        elif keyword in START_WORDS:
            _opt_in(sender, appointment, now)
            Message.objects.filter(pk=message.pk).update(read_at=now)
        else:
            conversation.received(message, now)
            if message.media_urls and appointment is not None:
                pk = message.pk
                transaction.on_commit(lambda: publish("notifications.fetch_media", [(pk,)]))
    return message


def match_sender(
    phone: str, to: str = "", now: datetime | None = None
) -> tuple[Appointment | None, Customer | None, Dealership | None]:
    """The appointment an SMS from `phone` to our number `to` is about: the sender's
    nearest open one (scheduled, not over yet), at the dealership whose own number `to`
    is, if it is one. With none: the customer and dealership it came from, if known."""
    now = now or timezone.now()
    dealership = Dealership.objects.filter(sms_number=to).first() if to else None
    here: dict[str, object] = {"dealership": dealership} if dealership else {}
    appointment = (
        Appointment.objects.filter(
            customer__phone=phone,
            status=Appointment.Status.SCHEDULED,
            ends_at__gt=now,
            **here,
        )
        .select_related("customer", "dealership")
        .order_by("starts_at", "pk")
        .first()
    )
    if appointment is not None:
        return appointment, appointment.customer, appointment.dealership
    customer = (
        Customer.objects.filter(phone=phone, **here)
        .select_related("dealership")
        .order_by("-pk")
        .first()
    )
    if customer is not None:
        return None, customer, customer.dealership
    return None, None, dealership


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
    - Of a batch whose worker died (`send_messages`), those that cannot have reached
      a provider are queued again (`release_unstarted`); the others wait to be asked.
    - "queued" for REQUEUE_AFTER_SECONDS past when its task should have run (at once, or
      after its retry's backoff): the task was lost (the broker was down when it was
      queued, or dropped it). Queued again; a task too many finds nothing to claim.
    """
    now = now or timezone.now()
    stuck_before = now - timedelta(minutes=settings.MESSAGE_SENDING_TIMEOUT_MINUTES)
    lost = _lost_queued(now)
    never_tried = release_unstarted(stuck_before)
    stuck = Message.objects.filter(
        status=Status.SENDING, attempted_at__lt=stuck_before, claim__isnull=True
    )
    outcomes: list[Outcome] = []
    for message in stuck.order_by("attempted_at")[:RESOLVE_BATCH]:
        outcomes.append(resolve_unknown(message, now))
        if outcomes[-1] == Outcome.UNRESOLVED:
            break

    compose.enqueue([Message(pk=pk) for pk in lost])
    return Swept(
        requeued=len(lost) + never_tried,
        found=outcomes.count(Outcome.FOUND),
        resent=outcomes.count(Outcome.RESENT),
        failed=outcomes.count(Outcome.FAILED),
        unresolved=outcomes.count(Outcome.UNRESOLVED),
    )


def release_unstarted(stuck_before: datetime) -> int:
    """Settles the batches claimed before `stuck_before` and still "sending": their
    worker died (a send task is stopped well before). Returns how many were queued again.

    A batch hands its messages to transports one at a time in id order, and records
    their outcomes at least every MESSAGE_RECORD_EVERY messages and right after each message
    that cannot be asked about. So of the batch's messages still "sending", in id order,
    only the first MESSAGE_RECORD_EVERY, up to and including the first that cannot be asked,
    may have gone out: each is left on its own for `resolve_unknown` to ask about.
    Every later one was never begun, and is queued again as never tried.
    """
    claims = list(
        Message.objects.filter(
            status=Status.SENDING, attempted_at__lt=stuck_before, claim__isnull=False
        )
        .values_list("claim", flat=True)
        .distinct()[:RESOLVE_BATCH]
    )
    released: list[int] = []
    for claim in claims:
        batch = Message.objects.filter(claim=claim, status=Status.SENDING)
        rows = list(batch.order_by("pk").values_list("pk", "channel"))
        cut = min(len(rows), settings.MESSAGE_RECORD_EVERY)
        for position, (_pk, channel) in enumerate(rows[:cut]):
            if not transports.can_ask(channel):
                cut = position + 1  # whatever follows it never began
                break
        maybe, never = [pk for pk, _ in rows[:cut]], [pk for pk, _ in rows[cut:]]
        with transaction.atomic():
            batch.filter(pk__in=maybe).update(claim=None)
            batch.filter(pk__in=never).update(
                status=Status.QUEUED, attempts=F("attempts") - 1, claim=None
            )
        released += never
    if released:
        log.warning("Requeued %d messages of send batches whose worker died", len(released))
        compose.enqueue([Message(pk=pk) for pk in released])
    return len(released)


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
            reset = OnlineCheckIn.objects.filter(
                appointment_id=_appointment_id(message),
                invitation_status=Invitation.QUEUED,
            ).update(invitation_status=Invitation.FAILED)
            if reset:
                list_changed(_appointment(message).dealership_id)
    if surfaced:
        log.warning("Message %s: interrupted while sending, surfaced to staff", message.pk)
