"""The customer's messages about their visit: booked, moved, cancelled, arrived, ready,
collected, no-show, and the review request (`workshop.visit.tell` and the booking).

Each is written as a queued `Message` in the transaction of the step it announces and
sent by the exactly-once delivery (`notifications.delivery`), by the channel the
customer last wrote by, else their preferred one, as long as we may use it
(`channel_for`), in their language, in the dealership's own words where it has set
them (`MessageText`).

Sent once: the step that calls `tell` is a conditional UPDATE from the states it starts
from (`workshop.visit._step`), so of two receptionists pressing "ready" at once only
one changes the row, and only that transaction writes the message; a step that rolls
back takes its message with it. Arrived, ready, collected and no-show cannot happen
twice to an appointment (no step leads back); a cancellation happens once per booking
(the DMS may book it again, and cancel it again: that is news again); a move once per
new time. The booking confirmation is written with the appointment's row, and the
review request after a conditional UPDATE of `OnlineCheckIn.review_requested_at`
(`request_reviews`). The delivery claims each row once (`send_messages`) and sends a
visit message only while the appointment is in the state it announces
(`VISIT_PURPOSES`), so a "we have your car" still queued when the car is ready, or a
booking confirmation for an appointment cancelled meanwhile, is not sent.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications import compose, schedule
from notifications.models import Message
from workshop.models import Appointment, AppointmentEvent, Dealership, OnlineCheckIn

log = logging.getLogger(__name__)

Purpose = Message.Purpose
Status = Appointment.Status

# `workshop.visit.tell`'s steps and the message each sends.
STEP_PURPOSES: dict[str, str] = {
    "booked": Purpose.BOOKED,
    "moved": Purpose.MOVED,
    "cancelled": Purpose.CANCELLED,
    "arrived": Purpose.ARRIVED,
    "ready": Purpose.READY,
    "collected": Purpose.COLLECTED,
    "no_show": Purpose.NO_SHOW,
    "review": Purpose.REVIEW,
}
# What the workshop or the DMS decided (by night, too) waits for the dealership's
# sending hours; what answers the customer's own step, or their car at the desk, goes
# at once (`send_at`).
AT_ONCE = frozenset({Purpose.ARRIVED, Purpose.READY, Purpose.COLLECTED, Purpose.CANCEL_ACK})
# Queued messages that carried the old time: a move or a cancellation withdraws them.
OLD_TIMES = [Purpose.BOOKED, Purpose.MOVED]
SUPERSEDED = "Not sent: a newer message about the appointment replaced it."
# Review requests per beat run; the rest wait for the next one.
REVIEW_BATCH = 500
# Collected longer ago than this and never asked (the feature was off, the beat was
# down): too late to ask. Also bounds the query to the recent collections.
REVIEW_WINDOW = timedelta(days=7)


def _loaded(appointment_id: int) -> Appointment:
    return Appointment.objects.select_related("dealership", "customer", "vehicle", "checkin").get(
        pk=appointment_id
    )


def channel_for(appointment: Appointment) -> str | None:
    """The channel the customer last wrote to us by, if we may use it; else the one
    they prefer, or the other one; None when we cannot reach them at all."""
    usable = appointment.customer.channels_to_try()
    if not usable:
        return None
    last_in = (
        Message.objects.inbound()
        .filter(appointment=appointment, channel__in=usable)
        .order_by("-queued_at", "-pk")
        .values_list("channel", flat=True)
        .first()
    )
    return last_in or usable[0]


def send_at(appointment: Appointment, purpose: str, now: datetime) -> datetime:
    """When the message may go: now, or when the dealership's sending hours open. It
    is written now with that time as `queued_at`; the delivery claims no message
    before its time (`delivery.send_messages`), and the sweep hands it to a send task
    once it is due, as any queued message whose task is not there (`_lost_queued`)."""
    if purpose in AT_ONCE:
        return now
    return schedule.next_sending_time(appointment.dealership, now)


def purpose_for(appointment: Appointment, step: str) -> str:
    if step == "cancelled" and appointment.cancelled_by == Appointment.CancelledBy.CUSTOMER:
        return Purpose.CANCEL_ACK  # they know why: a short acknowledgement
    return STEP_PURPOSES[step]


def tell(appointment: Appointment, step: str, now: datetime, **facts: str) -> Message | None:
    """Queues the customer's one message about `step`, in the caller's transaction (see
    the module's docstring for why it is sent once). Returns it, or None when the
    customer has no channel we may use."""
    appointment = _loaded(appointment.pk)  # as the step left it, with what texts need
    purpose = purpose_for(appointment, step)
    if purpose in (
        Purpose.BOOKED,
        Purpose.MOVED,
        Purpose.CANCELLED,
        Purpose.CANCEL_ACK,
        Purpose.NO_SHOW,
    ):
        appointment.withdraw_queued(OLD_TIMES, SUPERSEDED)
    channel = channel_for(appointment)
    if channel is None:
        log.info("Appointment %s: no channel to tell the customer %s", appointment.pk, step)
        return None
    if purpose == Purpose.CANCEL_ACK:
        facts = {}  # the customer's own reason is not repeated to them
    message = compose.build_message(
        appointment,
        purpose,
        channel,
        now=send_at(appointment, purpose, now),
        overrides=compose.overrides_for([appointment.dealership_id]),
        facts=facts,
    )
    message.save()
    compose.enqueue([message])
    return message  # the list shows the step, which tells it (`workshop.visit`)


def facts_for(message: Message, appointment: Appointment) -> dict[str, str]:
    """The facts a visit message was written with, again (for its fallback by the
    other channel): the note of the last move; the rest is on the appointment."""
    if message.purpose != Purpose.MOVED:
        return {}
    note = (
        AppointmentEvent.objects.filter(appointment=appointment, kind=AppointmentEvent.Kind.MOVED)
        .order_by("-at", "-pk")
        .values_list("detail", flat=True)
        .first()
    )
    return {"note": note or ""}


# --- The booking confirmation ----------------------------------------------------------


def wants_confirmation(appointment: Appointment, now: datetime) -> bool:
    """Booked for a later day than today at the dealership: for today (or the past),
    the customer is at the desk before a confirmation would mean anything."""
    dealership = appointment.dealership
    today = now.astimezone(dealership.tz).date()
    return (
        appointment.status == Status.SCHEDULED
        and appointment.starts_at.astimezone(dealership.tz).date() > today
    )


def confirm_bookings(appointment_ids: Sequence[int], now: datetime | None = None) -> list[Message]:
    """The booking confirmations of new appointments (`workshop.booking`), in the
    booking's transaction: the date, the address and the appointment for the
    customer's calendar. A few queries however many (the DMS books hundreds at once)."""
    now = now or timezone.now()
    appointments = [
        appointment
        for appointment in Appointment.objects.filter(pk__in=list(appointment_ids))
        .select_related("dealership", "customer", "vehicle", "checkin")
        .order_by("pk")
        if wants_confirmation(appointment, now)
    ]
    overrides = compose.overrides_for({a.dealership_id for a in appointments})
    # New: the customer has not written about it, so their preferred channel.
    built = (
        compose.build_preferred(
            appointment,
            Purpose.BOOKED,
            now=send_at(appointment, Purpose.BOOKED, now),
            overrides=overrides,
        )
        for appointment in appointments
    )
    messages = [message for message in built if message is not None]
    if messages:
        Message.objects.bulk_create(messages)
        compose.enqueue(messages)
    return messages


# --- The review request ----------------------------------------------------------------


def review_due_q(now: datetime) -> Q:
    """Collected appointments whose review request is due (the dealership's delay is
    applied per row by `request_reviews`): recent, not asked yet."""
    return Q(
        status=Status.DONE,
        collected_at__gte=now - REVIEW_WINDOW,
        checkin__review_requested_at__isnull=True,
    )


def request_reviews(now: datetime | None = None) -> int:
    """Asks customers how their visit was, once each, a dealership's
    `review_delay_hours` after they collected the car, inside its sending hours; run
    by beat. Returns how many were asked.

    The query reads a partial index of collected appointments (`appointment_collected_idx`
    on `collected_at`), bounded to the last `REVIEW_WINDOW`, in batches of
    `REVIEW_BATCH`; each request is claimed by a conditional UPDATE of
    `OnlineCheckIn.review_requested_at`, so a second beat or worker asks nobody twice.
    """
    now = now or timezone.now()
    asked = 0
    for dealership in Dealership.objects.all():
        if not schedule.window_open(dealership, now):
            continue
        due_before = now - timedelta(hours=dealership.review_delay_hours)
        candidates = list(
            Appointment.objects.filter(
                review_due_q(now), dealership=dealership, collected_at__lte=due_before
            )
            .order_by("collected_at", "pk")
            .values_list("pk", flat=True)[:REVIEW_BATCH]
        )
        for appointment_id in candidates:
            with transaction.atomic():
                claimed = OnlineCheckIn.objects.filter(
                    appointment_id=appointment_id,
                    review_requested_at__isnull=True,
                    appointment__status=Status.DONE,
                ).update(review_requested_at=now)
                if claimed:
                    appointment = _loaded(appointment_id)
                    if tell(appointment, "review", now) is not None:
                        asked += 1
    return asked
