"""Logging a call attempt, and what its outcome decides: the one place of the rules.

`RULES` says them for managers (the To-call page), from the same constants the code
uses. Every change runs in one transaction, on the follow-up's row lock, so two people
logging the same call at once number their attempts 1 and 2, never 1 and 1.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from followups.calendar import is_working_day, local, next_working_day
from followups.models import Attempt, FollowUp, FollowUpSettings
from notifications import compose
from notifications.models import Purpose
from workshop.models import AppointmentEvent

Outcome = Attempt.Outcome
Closed = FollowUp.Outcome

# Calls nobody answered: after this many, the follow-up closes as not reachable.
MAX_UNANSWERED = 3
UNANSWERED = (Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.MISSED_CALL_BACK)
# Outcomes that close the follow-up, and how.
CLOSES = {
    Outcome.AGREED: Closed.RESOLVED,
    Outcome.NOT_AGREED: Closed.RESOLVED,
    Outcome.WRONG_NUMBER: Closed.WRONG_NUMBER,
}
# An agreed call-back not logged this long after its time counts as an unanswered attempt.
CALL_BACK_GRACE = timedelta(hours=1)
# What staff may choose in the dialog (the system logs missed call-backs itself).
STAFF_OUTCOMES = [o for o in Outcome if o != Outcome.MISSED_CALL_BACK]


class AttemptRefused(Exception):
    """An attempt that cannot be logged; `str()` says why, in the reader's language."""


def rules(settings: FollowUpSettings) -> list[str]:
    """The rules as the code applies them, for managers to read."""
    days = settings.days_between_attempts
    return [
        ngettext(
            "No answer or voicemail: the next attempt is due %(days)d working day later, "
            "at the same time.",
            "No answer or voicemail: the next attempt is due %(days)d working days later, "
            "at the same time.",
            days,
        )
        % {"days": days},
        gettext(
            "After the first unanswered call the customer gets one message (SMS or e-mail, "
            "as they prefer) saying we tried to reach them, with the check-in link and our "
            "phone number."
        ),
        gettext(
            "After %(max)d unanswered calls the follow-up closes as not reachable; the "
            "appointment shows it."
        )
        % {"max": MAX_UNANSWERED},
        gettext(
            "Call back at an agreed time: due at that time. Not logged within %(minutes)d "
            "minutes, it counts as an unanswered call."
        )
        % {"minutes": CALL_BACK_GRACE.seconds // 60},
        gettext(
            "Answered (agreed or not): the follow-up closes as resolved, the note on the timeline."
        ),
        gettext(
            "Wrong number: the follow-up closes and the customer's phone is flagged for correction."
        ),
        gettext(
            "Weekends, public holidays and the dealership's closing days are never due dates. "
            "A follow-up is shown to managers when urgent or overdue by more than "
            "%(hours)d hours."
        )
        % {"hours": settings.escalate_after_hours},
    ]


def log_attempt(
    follow_up: FollowUp,
    outcome: str,
    note: str = "",
    by=None,
    call_back_at: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Attempt | None:
    """Logs one call and applies its outcome's rule. Raises `AttemptRefused` for a
    closed follow-up or a call-back time that is past or on a closed day. A missed
    call-back logged by the sweep returns None when someone logged a call meanwhile."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related("dealership", "appointment__customer")
            .get(pk=follow_up.pk)
        )
        if outcome == Outcome.MISSED_CALL_BACK and not (
            locked.is_open and locked.is_call_back and locked.due_at <= now - CALL_BACK_GRACE
        ):
            return None
        if not locked.is_open:
            raise AttemptRefused(gettext("This follow-up is already closed."))
        dealership = locked.dealership
        if outcome == Outcome.CALL_BACK:
            _check_call_back(locked, call_back_at, now)
        customer = locked.appointment.customer
        number = locked.attempt_count + 1
        attempt = Attempt.objects.create(
            follow_up=locked,
            number=number,
            outcome=outcome,
            note=note.strip(),
            by=by,
            at=now,
            call_back_at=call_back_at if outcome == Outcome.CALL_BACK else None,
            phone=customer.phone_e164,
        )
        locked.attempt_count = number
        _note_attempt(locked, attempt, by, now)
        if outcome in UNANSWERED:
            unanswered = locked.attempts.filter(outcome__in=UNANSWERED).count()
            if locked.tried_message_at is None:
                _tell_we_tried(locked, now)
            if unanswered >= MAX_UNANSWERED:
                _close(locked, Closed.NOT_REACHABLE, by, now)
            else:
                days = FollowUpSettings.for_dealership(dealership).days_between_attempts
                # From the time it was due (a missed call-back), else from now.
                base = locked.due_at if outcome == Outcome.MISSED_CALL_BACK else now
                locked.due_at = next_working_day(dealership, base, days)
                locked.is_call_back = False
        elif outcome == Outcome.CALL_BACK:
            assert call_back_at is not None
            locked.due_at, locked.is_call_back = call_back_at, True
        else:
            _close(locked, CLOSES[Outcome(outcome)], by, now)
        locked.save()
    follow_up.refresh_from_db()
    return attempt


def _check_call_back(follow_up: FollowUp, at: datetime | None, now: datetime) -> None:
    if at is None:
        raise AttemptRefused(gettext("Say when to call back."))
    if at <= now:
        raise AttemptRefused(gettext("The call-back time has passed; choose a later one."))
    day = local(follow_up.dealership, at).date()
    if not is_working_day(follow_up.dealership, day):
        raise AttemptRefused(gettext("The dealership is closed that day; choose a working day."))


def _close(follow_up: FollowUp, outcome: str, by, now: datetime) -> None:
    follow_up.status, follow_up.outcome = FollowUp.Status.CLOSED, outcome
    follow_up.closed_at, follow_up.closed_by = now, by
    follow_up.is_call_back = False
    with translation.override(follow_up.dealership.language):
        detail = f"{follow_up.get_reason_display()}: {follow_up.get_outcome_display()}"
    follow_up.note(AppointmentEvent.Kind.FOLLOW_UP_CLOSED, by, now, detail)


def close_follow_up(follow_up: FollowUp, by, note: str = "", now: datetime | None = None) -> bool:
    """Staff cancel a follow-up no longer needed (the appointment moved, say)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related("dealership")
            .get(pk=follow_up.pk)
        )
        if not locked.is_open:
            return False
        _close(locked, Closed.CANCELLED, by, now)
        locked.save()
    follow_up.refresh_from_db()
    return True


def _note_attempt(follow_up: FollowUp, attempt: Attempt, by, now: datetime) -> None:
    with translation.override(follow_up.dealership.language):
        what = f"{attempt.number}. {attempt.get_outcome_display()}"
        if attempt.call_back_at:
            at = local(follow_up.dealership, attempt.call_back_at)
            what += f" ({at:%Y-%m-%d %H:%M})"
    detail = "\n".join(filter(None, [what, attempt.note]))
    follow_up.note(AppointmentEvent.Kind.CALL_ATTEMPT, by, now, detail)


def _tell_we_tried(follow_up: FollowUp, now: datetime) -> None:
    """One "we tried to reach you" message, by the customer's preferred usable channel,
    through the exactly-once delivery; none when no channel is usable."""
    from workshop.models import Appointment

    appointment = Appointment.objects.select_related(
        "dealership", "customer", "vehicle", "checkin"
    ).get(pk=follow_up.appointment_id)
    follow_up.tried_message_at = now
    message = compose.build_preferred(
        appointment,
        Purpose.FOLLOWUP_TRIED,
        now=now,
        overrides=compose.overrides_for([appointment.dealership_id]),
    )
    if message is not None:
        message.save()
        compose.enqueue([message])


def sweep_missed_call_backs(now: datetime | None = None) -> int:
    """Beat: phone appointments past their time (and the grace) with no call logged
    count as an unanswered attempt. Returns how many it logged."""
    now = now or timezone.now()
    missed = FollowUp.objects.open().filter(is_call_back=True, due_at__lte=now - CALL_BACK_GRACE)
    logged = 0
    for follow_up in missed.order_by("due_at")[:500]:
        if log_attempt(follow_up, Outcome.MISSED_CALL_BACK, now=now) is not None:
            logged += 1
    return logged
