"""The visit: booked → arrived → ready → collected; or cancelled (by the customer, the
workshop or the DMS, with a reason), or no-show. Moving changes the time with a note.

Each step is one function and one transaction: a conditional UPDATE from the states the
step makes sense in (of two receptionists pressing at once, one changes the row, the
other gets False and nothing happens twice), an event on the timeline, the list told, a
webhook event, and where the customer should know, one message through the exactly-once
delivery (`tell`). `STEPS` is the one table of which step starts from which state: the
functions check it in their UPDATE, and the appointment page offers only what it allows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy

from followups import opening as follow_ups
from integrations import events
from workshop.daylist import list_changed
from workshop.models import (
    Appointment,
    AppointmentEvent,
    CheckInItem,
    OnlineCheckIn,
    Review,
)

Status = Appointment.Status
CancelledBy = Appointment.CancelledBy
Actor = AppointmentEvent.Actor
Kind = AppointmentEvent.Kind

# Each step and the states it starts from.
STEPS: dict[str, frozenset[str]] = {
    "arrive": frozenset({Status.SCHEDULED}),
    "ready": frozenset({Status.ARRIVED}),
    "collect": frozenset({Status.READY}),
    "move": frozenset({Status.SCHEDULED}),
    "cancel": frozenset({Status.SCHEDULED}),
    "no_show": frozenset({Status.SCHEDULED}),
}
# A no-show can be recorded until this long after the start; then the booking stays as it is.
NO_SHOW_WINDOW = timedelta(hours=24)
# Moving an appointment this many times already: the receptionist is warned.
MANY_MOVES = 2
# The parts of the day a customer can ask for, when they ask for another date, in the
# words staff read them in after a day ("Tuesday 8 December, morning").
PART_OF_DAY = {
    "morning": pgettext_lazy("part of day", "morning"),
    "afternoon": pgettext_lazy("part of day", "afternoon"),
}
DAY_PARTS = tuple(PART_OF_DAY)
MAX_PREFERRED_DAYS = 3

# Why a message written before a step is not sent: kept in English in `Message.error`,
# translated where staff read it (as in `notifications.delivery`, which uses them too).
MOVED_BEFORE_SENDING = gettext_noop(
    "Not sent: the appointment moved; the invitation goes out when it is due."
)
NOT_SENT: dict[str, str] = {
    Status.CANCELLED: gettext_noop("Not sent: the appointment was cancelled."),
    Status.DONE: gettext_noop("Not sent: the appointment is done."),
    Status.NO_SHOW: gettext_noop("Not sent: the customer did not come."),
}

# A short list of reasons the workshop cancels for; staff may also write their own.
CUSTOMER_ASKED = gettext_noop("The customer asked us by phone")
WORKSHOP_REASONS = (
    gettext_noop("The mechanic or a part is not available"),
    CUSTOMER_ASKED,
    gettext_noop("Booked twice"),
    gettext_noop("The workshop is closed that day"),
)


# --- What staff may do now ---------------------------------------------------------------


def no_show_opens(appointment: Appointment) -> datetime:
    """From when a car that has not arrived may be recorded as a no-show: when it is late."""
    return appointment.late_from


def steps(appointment: Appointment, now: datetime | None = None) -> list[str]:
    """The steps that make sense for the appointment now, in the order the page shows
    them. `appointment` comes with its dealership loaded."""
    now = now or timezone.now()
    allowed = [step for step, states in STEPS.items() if appointment.status in states]
    if "no_show" in allowed and not (
        no_show_opens(appointment) <= now <= appointment.starts_at + NO_SHOW_WINDOW
    ):
        allowed.remove("no_show")
    return allowed


@dataclass
class History:
    """The customer's earlier visits that went wrong: no-shows and late cancellations."""

    no_shows: int
    late_cancellations: int

    def __bool__(self) -> bool:
        return bool(self.no_shows or self.late_cancellations)


def customer_history(appointment: Appointment) -> History:
    """One query: the customer's other appointments they missed, or cancelled late: by
    themselves, or by the workshop because they phoned, within the dealership's
    free-cancellation hours before the start."""
    free = timedelta(hours=appointment.dealership.free_cancellation_hours)
    by_customer = Q(cancelled_by=CancelledBy.CUSTOMER) | Q(
        cancelled_by=CancelledBy.WORKSHOP, cancel_reason=CUSTOMER_ASKED
    )
    late = Q(status=Status.CANCELLED, cancelled_at__gt=F("starts_at") - free) & by_customer
    counts = (
        Appointment.objects.filter(customer_id=appointment.customer_id)
        .exclude(pk=appointment.pk)
        .aggregate(
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
            late_cancellations=Count("pk", filter=late),
        )
    )
    return History(counts["no_shows"], counts["late_cancellations"])


# --- What the appointment page shows about the visit -------------------------------------


def preferred_days(item: CheckInItem) -> list[tuple[date, str]]:
    """A date request's days and parts of the day, in the staff's language."""
    days = []
    for wish in item.preferred_days or []:
        try:
            day = date.fromisoformat(wish.get("day", ""))
        except (AttributeError, ValueError):
            continue
        days.append((day, str(PART_OF_DAY.get(wish.get("part", ""), ""))))
    return days


def visit_context(appointment: Appointment, items: list[CheckInItem]) -> dict:
    """The visit section: the state, what staff may do now, the customer's history."""
    now = timezone.now()
    try:
        stars = appointment.review.stars  # loaded with the appointment (`get_appointment`)
    except Review.DoesNotExist:
        stars = 0
    for item in items:
        # Read off the items by the page's template; not model fields.
        if item.kind == CheckInItem.Kind.DATE_REQUEST:
            item.wishes = preferred_days(item)  # type: ignore[attr-defined]
        elif item.kind == CheckInItem.Kind.LOW_RATING:
            item.stars = stars  # type: ignore[attr-defined]
    allowed = steps(appointment, now)
    return {
        "visit_steps": allowed,
        "visit_waiting": appointment.is_waiting_for_arrival(now),
        "visit_late": appointment.is_late(now),
        "many_moves": appointment.moves >= MANY_MOVES,
        "next_move": appointment.moves + 1,
        "history": customer_history(appointment),
        "cancel_reason": gettext(appointment.cancel_reason) if appointment.cancel_reason else "",
    }


# --- The steps ---------------------------------------------------------------------------


def _step(appointment: Appointment, step: str, now: datetime, **values: object) -> bool:
    """The conditional UPDATE every step is: from the step's states, to `values`.
    Returns whether this call changed the row; mirrors it onto `appointment`."""
    matching = Appointment.objects.filter(pk=appointment.pk, status__in=STEPS[step])
    if not matching.update(updated_at=now, **values):
        return False
    for name, value in values.items():
        setattr(appointment, name, value)
    appointment.updated_at = now
    return True


def _happened(
    appointment: Appointment,
    kind: str,
    event: str,
    now: datetime,
    user=None,
    *,
    actor: str = "",
    detail: str = "",
    **facts: str,
) -> None:
    """What follows every step that changed the row: the event on the timeline (by
    `user`, else the system), the customer's message about it (`tell`: the event's kind
    names the step), the list told, the webhook event."""
    AppointmentEvent.objects.create(
        appointment=appointment,
        at=now,
        kind=kind,
        actor=actor or (Actor.STAFF if user is not None else Actor.SYSTEM),
        user=user,
        detail=detail,
    )
    tell(appointment, kind, now, **facts)
    list_changed(appointment.dealership_id)
    events.emit(appointment.pk, event)


def arrive(
    appointment: Appointment,
    *,
    user,
    promised_ready_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """The car is at the desk: the customer hears "we have your car" (with the time it
    should be ready, when staff promised one)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _step(
            appointment,
            "arrive",
            now,
            status=Status.ARRIVED,
            arrived_at=now,
            promised_ready_at=promised_ready_at,
        ):
            return False
        _happened(appointment, Kind.ARRIVED, events.APPOINTMENT_ARRIVED, now, user)
    return True


def ready(appointment: Appointment, *, user, now: datetime | None = None) -> bool:
    """The work is done: the customer hears the car can be collected, and when."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _step(appointment, "ready", now, status=Status.READY, ready_at=now):
            return False
        _happened(appointment, Kind.READY, events.APPOINTMENT_READY, now, user)
    return True


def collect(appointment: Appointment, *, user, now: datetime | None = None) -> bool:
    """The customer took the car: thanked now, asked for a review later
    (`Dealership.review_delay_hours`, by the review sweep)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _step(appointment, "collect", now, status=Status.DONE, collected_at=now):
            return False
        _happened(appointment, Kind.COLLECTED, events.APPOINTMENT_COLLECTED, now, user)
    return True


def no_show(appointment: Appointment, *, user, now: datetime | None = None) -> bool:
    """The customer did not come: from the grace time after the start until a day
    after it (then the booking stays as it is). They hear how to rebook, and land on
    the To-call list for a call to book again."""
    now = now or timezone.now()
    opens = no_show_opens(appointment)
    if not opens <= now <= appointment.starts_at + NO_SHOW_WINDOW:
        return False
    with transaction.atomic():
        if not _step(appointment, "no_show", now, status=Status.NO_SHOW, no_show_at=now):
            return False
        _withdraw_pending(appointment, NOT_SENT[Status.NO_SHOW])
        follow_ups.open_follow_up(appointment, follow_ups.Reason.NO_SHOW, now=now)
        _happened(appointment, Kind.NO_SHOW, events.APPOINTMENT_NO_SHOW, now, user)
    return True


def move(
    appointment: Appointment,
    *,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
    user=None,
    now: datetime | None = None,
) -> bool:
    """Gives the appointment a new time (staff with a note; the DMS without); returns
    False when it already had that time or is no longer booked.

    The customer hears the new time, and is invited (and reminded) again for the new
    date, once: the invitation and reminder not sent yet are withdrawn, and the
    check-in's invitation goes back to "not due" for the dispatcher, which claims it
    once when the new date falls due. The link stays the same. A yes or no given for
    the old date no longer counts; a request for another date is answered.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status not in STEPS["move"]:
            return False
        if locked.starts_at == starts_at and locked.ends_at == ends_at:
            return False
        moved = locked.starts_at != starts_at
        values: dict[str, object] = {"starts_at": starts_at, "ends_at": ends_at}
        if moved:
            values.update(
                confirmation=Appointment.Confirmation.NO_ANSWER,
                confirmation_at=None,
                moves=locked.moves + 1,
            )
            if locked.decline_is_waiting:
                values["decline_handled_at"] = now
        _step(appointment, "move", now, **values)
        if not moved:  # only the end changed: nothing to tell the customer
            list_changed(locked.dealership_id)
        else:
            _withdraw_pending(appointment, MOVED_BEFORE_SENDING)
            OnlineCheckIn.objects.filter(appointment=appointment).update(
                invitation_status=OnlineCheckIn.InvitationStatus.NOT_DUE,
                invitation_claim=None,
                invited_at=None,
                reminded_at=None,
                confirmation_asked_at=None,
            )
            if user is not None:
                # Staff moved it: the customer's request for another date is answered.
                # A DMS move leaves it open, for staff to see and handle.
                _handle_items(appointment, [CheckInItem.Kind.DATE_REQUEST], user, now, note)
            _happened(
                appointment, Kind.MOVED, events.APPOINTMENT_MOVED, now, user, detail=note, note=note
            )
    return True


def cancel(
    appointment: Appointment,
    *,
    by: str,
    reason: str = "",
    user=None,
    now: datetime | None = None,
) -> bool:
    """Cancels a booked appointment, by the workshop (with a reason), the customer or
    the DMS; returns False when it was no longer booked.

    Messages not sent yet are withdrawn. The customer hears it politely, with how to
    rebook, unless they cancelled themselves (then they get a short acknowledgement);
    a customer's cancellation pins the appointment until staff acknowledge it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not _step(
            appointment,
            "cancel",
            now,
            status=Status.CANCELLED,
            cancelled_at=now,
            cancelled_by=by,
            cancel_reason=reason,
        ):
            return False
        _withdraw_pending(appointment, NOT_SENT[Status.CANCELLED])
        if by == CancelledBy.CUSTOMER:
            _open_item(appointment, CheckInItem.Kind.CANCELLED, now, description=reason)
        if appointment.decline_is_waiting:
            Appointment.objects.filter(pk=appointment.pk).update(decline_handled_at=now)
            appointment.decline_handled_at = now
        _happened(
            appointment,
            Kind.CANCELLED,
            events.APPOINTMENT_CANCELLED,
            now,
            user,
            actor=Actor.CUSTOMER if by == CancelledBy.CUSTOMER else "",
            detail=reason,
            reason=reason,
        )
    return True


def may_cancel_free(appointment: Appointment, now: datetime | None = None) -> bool:
    """Whether the customer may still cancel from the check-in page: booked, and more
    than the dealership's free-cancellation hours before the start."""
    hours = timedelta(hours=appointment.dealership.free_cancellation_hours)
    return (
        appointment.status == Status.SCHEDULED
        and (now or timezone.now()) < appointment.starts_at - hours
    )


def cancel_by_customer(
    appointment: Appointment, *, reason: str = "", now: datetime | None = None
) -> bool:
    """The customer cancels on the check-in page, while that is still free of charge."""
    now = now or timezone.now()
    if not may_cancel_free(appointment, now):
        return False
    return cancel(appointment, by=CancelledBy.CUSTOMER, reason=reason, now=now)


def request_other_date(
    appointment: Appointment,
    preferred: Sequence[tuple[date, str]],
    *,
    note: str = "",
    now: datetime | None = None,
) -> bool:
    """The customer asks for another date (up to three days, each morning or
    afternoon): an item staff handle by moving the appointment. One open request at a
    time: a new one replaces the one staff have not handled yet."""
    now = now or timezone.now()
    days = [
        {"day": day.isoformat(), "part": part}
        for day, part in preferred[:MAX_PREFERRED_DAYS]
        if part in DAY_PARTS
    ]
    if not days or not appointment.is_upcoming(now):
        return False
    with transaction.atomic():
        CheckInItem.objects.open().filter(
            checkin__appointment=appointment, kind=CheckInItem.Kind.DATE_REQUEST
        ).update(state=CheckInItem.State.WITHDRAWN)
        _open_item(
            appointment, CheckInItem.Kind.DATE_REQUEST, now, description=note, preferred_days=days
        )
        AppointmentEvent.objects.create(
            appointment=appointment, at=now, kind=Kind.DATE_REQUESTED, actor=Actor.CUSTOMER
        )
        list_changed(appointment.dealership_id)
    return True


def rate(
    appointment: Appointment, *, stars: int, comment: str = "", now: datetime | None = None
) -> bool:
    """The customer rates a collected visit, once; a low rating pins the appointment
    for the manager and puts the customer on the To-call list."""
    now = now or timezone.now()
    if appointment.status != Status.DONE or not 1 <= stars <= 5:
        return False
    with transaction.atomic():
        review, created = Review.objects.get_or_create(
            appointment=appointment,
            defaults={"stars": stars, "comment": comment, "created_at": now},
        )
        if not created:
            return False
        if review.is_low:
            _open_item(appointment, CheckInItem.Kind.LOW_RATING, now, description=comment)
            follow_ups.open_follow_up(
                appointment, follow_ups.Reason.LOW_RATING, about=f"{stars}/5", now=now
            )
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=Kind.RATED,
            actor=Actor.CUSTOMER,
            detail=f"{stars}/5",
        )
        list_changed(appointment.dealership_id)
    return True


# --- Shared steps ------------------------------------------------------------------------


def _open_item(appointment: Appointment, kind: str, now: datetime, **fields: object) -> None:
    """An item about the visit, open at once: it pins the appointment until handled."""
    CheckInItem.objects.create(
        checkin=OnlineCheckIn.objects.get(appointment=appointment),
        kind=kind,
        state=CheckInItem.State.OPEN,
        submitted_at=now,
        **fields,
    )


def _handle_items(
    appointment: Appointment, kinds: Sequence[str], user, now: datetime, note: str
) -> int:
    return (
        CheckInItem.objects.open()
        .filter(checkin__appointment=appointment, kind__in=kinds)
        .update(
            state=CheckInItem.State.HANDLED, handled_at=now, handled_by=user, handling_note=note
        )
    )


def _withdraw_pending(appointment: Appointment, reason: str) -> int:
    """Invitations, reminders and requests to confirm written but not yet sent are not
    sent any more (delivery also skips them when their turn comes)."""
    Purpose = appointment.messages.model.Purpose  # type: ignore[attr-defined]  # no import of notifications
    return appointment.withdraw_queued(
        [Purpose.INVITATION, Purpose.REMINDER, Purpose.CONFIRM_REQUEST], reason
    )


def tell(appointment: Appointment, step: str, now: datetime, **facts: str) -> None:
    """Queues the customer's one message about `step` (booked, moved, cancelled,
    arrived, ready, collected, no_show, review), in the caller's transaction: by the
    channel they last wrote by, else their preferred one, in their language.

    Sent once because the caller's conditional UPDATE (`_step`) let only one
    transaction through to here, and the message row commits or rolls back with it;
    the delivery claims each row once, and sends it only while the appointment is in
    the state it announces (`notifications.visit_news`, which says it in full).
    """
    # notifications builds on workshop: imported when a step runs, not with the module.
    from notifications import visit_news

    visit_news.tell(appointment, step, now, **facts)


# --- The DMS books a cancelled appointment again ------------------------------------------


def tell_booked_again(appointment: Appointment, now: datetime | None = None) -> bool:
    """The DMS booked a cancelled appointment again (`integrations.imports`): the
    customer, told it was cancelled, gets a booking confirmation, when it is for a
    later day. Returns whether one was due (none is queued when the customer has no
    channel we may use)."""
    from notifications import visit_news

    now = now or timezone.now()
    with transaction.atomic():
        if not visit_news.wants_confirmation(appointment, now):
            return False
        tell(appointment, "booked", now)
    return True
