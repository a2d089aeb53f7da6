"""Opening a follow-up where its reason arises: the one public way in for the other apps
(`workshop.checkin`, `notifications.conversation`, `notifications.delivery`, the
visit-state flows), each with a one-line call.

Idempotent, also under concurrent events: at most one open follow-up per appointment and
reason, held by the partial unique constraint `followup_one_open_per_reason`. Two events
at once both try the insert; the second waits for the first, fails on the constraint in
its own savepoint and returns the first one's row.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from followups.calendar import first_working_moment
from followups.models import FollowUp, FollowUpSettings, Priority, Reason
from workshop.models import (
    Appointment,
    AppointmentEvent,
    CheckInItem,
    Dealership,
)

# How urgent a new follow-up is, by why it exists; staff change it per follow-up.
DEFAULT_PRIORITY: dict[str, int] = {
    Reason.DECLINED: Priority.HIGH,
    Reason.NOT_REACHABLE: Priority.HIGH,
    Reason.LOW_RATING: Priority.HIGH,
    Reason.NO_SHOW: Priority.HIGH,
}


def open_follow_up(
    appointment: Appointment,
    reason: str,
    *,
    about: str = "",
    priority: int | None = None,
    by=None,
    assigned_to=None,
    now: datetime | None = None,
) -> FollowUp:
    """The open follow-up of `appointment` for `reason`: the one there is, or a new one
    due now (or at the start of the next working day when today is closed)."""
    now = now or timezone.now()
    existing = FollowUp.objects.open().filter(appointment=appointment, reason=reason).first()
    if existing is not None:
        return existing
    dealership = appointment.dealership
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a loss
            follow_up = FollowUp.objects.create(
                dealership_id=appointment.dealership_id,
                appointment=appointment,
                reason=reason,
                about=about[:200],
                priority=priority or DEFAULT_PRIORITY.get(reason, Priority.MEDIUM),
                created_by=by,
                assigned_to=assigned_to,
                created_at=now,
                due_at=first_working_moment(dealership, now),
            )
            follow_up.note(
                AppointmentEvent.Kind.FOLLOW_UP_OPENED,
                by,
                now,
                " · ".join(filter(None, [str(Reason(reason).label), about])),
            )
    except IntegrityError:
        return FollowUp.objects.open().get(appointment=appointment, reason=reason)
    return follow_up


def contact_requested(appointment_id: int, items: Iterable[CheckInItem]) -> None:
    """The customer sent the check-in asking to hear about offers: one follow-up, naming them."""
    names = [item.offer_name for item in items if item.kind == CheckInItem.Kind.OFFER_CONTACT]
    if names:
        appointment = Appointment.objects.select_related("dealership").get(pk=appointment_id)
        open_follow_up(appointment, Reason.OFFER_CONTACT, about=", ".join(names))


def open_not_opened(now: datetime | None = None) -> int:
    """The sweep (beat): invitations still unopened a dealership's set number of days
    before the appointment get a follow-up, once per appointment (a closed one is not
    opened again). Returns how many it opened."""
    now = now or timezone.now()
    opened = 0
    for dealership in Dealership.objects.all():
        days = FollowUpSettings.for_dealership(dealership).not_opened_days_before
        local_today = timezone.localtime(now, dealership.tz).date()
        _start, until = dealership.local_day_bounds(local_today + timedelta(days=days))
        had_one = FollowUp.objects.filter(appointment=OuterRef("pk"), reason=Reason.NOT_OPENED)
        due = (
            Appointment.objects.upcoming(now)
            .filter(
                dealership=dealership,
                starts_at__lt=until,
                checkin__invited_at__isnull=False,
                checkin__opened_at__isnull=True,
            )
            .exclude(Exists(had_one))
            .select_related("dealership")
        )
        for appointment in due:
            open_follow_up(appointment, Reason.NOT_OPENED, now=now)
            opened += 1
    return opened
