"""Invitations, reminders, confirmations and notices of changed contact details: which
appointments get which message when.

The dispatcher works in batches. Each batch is one transaction with a fixed number of
queries whatever its size: find due check-ins, claim them with one conditional UPDATE
(only rows still "not_due" change, so a second dispatcher running at the same time
claims none of them), read back what this run claimed, write all their messages in
one bulk INSERT, and queue one send task per message once the batch commits.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notifications import compose, schedule, texts
from notifications.models import Message
from workshop.checkin import ContactChange
from workshop.daylist import list_changed
from workshop.models import Appointment, AppointmentEvent, Channel, Dealership, OnlineCheckIn

BATCH_SIZE = 500
RESEND_INTERVAL = timedelta(minutes=10)
CONFIRMATION_REQUEST_AFTER_INVITATION = timedelta(hours=4)

Invitation = OnlineCheckIn.InvitationStatus
Purpose = Message.Purpose


class ResendRefused(Exception):
    """Staff asked to resend an invitation that cannot go out now; `str()` says why."""


class ResendTooSoon(ResendRefused):
    def __init__(self) -> None:
        super().__init__(
            _("An invitation went out less than 10 minutes ago. Please wait before resending.")
        )


class CustomerUnreachable(ResendRefused):
    def __init__(self) -> None:
        super().__init__(
            _("The customer has no mobile number or e-mail address we may use. Add one first.")
        )


class CheckInClosed(ResendRefused):
    def __init__(self) -> None:
        super().__init__(_("This appointment is no longer open for online check-in."))


def _open_dealerships(now: datetime, **filters: object) -> list[Dealership]:
    return [d for d in Dealership.objects.filter(**filters) if schedule.window_open(d, now)]


def _with_related(queryset):
    return queryset.select_related(
        "appointment__dealership", "appointment__customer", "appointment__vehicle"
    )


def _claimed_appointments(
    ids: list[int], claim: uuid.UUID, dealerships: dict[int, Dealership]
) -> list[Appointment]:
    """The check-ins among `ids` that this run's claim got (by primary key: the claim
    column has no index of its own), with the `dealerships` the run already has: one
    object each, not one per row."""
    appointments = []
    claimed = OnlineCheckIn.objects.filter(pk__in=ids, invitation_claim=claim).select_related(
        "appointment__customer", "appointment__vehicle"
    )
    for checkin in claimed:
        appointment = checkin.appointment
        appointment.dealership = dealerships[appointment.dealership_id]
        appointment.checkin = checkin  # the link is on the check-in: no query per message
        appointments.append(appointment)
    return appointments


def dispatch_due_invitations(now: datetime | None = None) -> list[Message]:
    """Queues the invitations that are due now; returns the messages queued.

    Due: a scheduled appointment, not yet invited, starting before the end of the day
    `invitation_lead_days` ahead, at a dealership inside its sending hours and days.
    """
    now = now or timezone.now()
    dealerships = _open_dealerships(now)
    if not dealerships:
        return []
    by_horizon: dict[datetime, list[int]] = defaultdict(list)
    for dealership in dealerships:
        by_horizon[schedule.invitation_horizon(dealership, now)].append(dealership.pk)
    within_lead = Q()
    for horizon, dealership_ids in by_horizon.items():
        within_lead |= Q(
            appointment__dealership_id__in=dealership_ids, appointment__starts_at__lt=horizon
        )
    due = (
        OnlineCheckIn.objects.still_open(now)
        .filter(within_lead, invitation_status=Invitation.NOT_DUE)
        .order_by()
    )
    overrides = compose.overrides_for(d.pk for d in dealerships)

    return _claim_in_batches(
        due,
        dealerships,
        still_due=Q(invitation_status=Invitation.NOT_DUE),
        claim={"invitation_status": Invitation.QUEUED},
        write=lambda appointments: _write_invitations(appointments, now, overrides),
    )


def _claim_in_batches(
    due: QuerySet[OnlineCheckIn],
    dealerships: list[Dealership],
    *,
    still_due: Q,
    claim: dict[str, object],
    write: Callable[[list[Appointment]], list[Message]],
) -> list[Message]:
    """Claims the `due` check-ins a batch at a time and writes their messages.

    Each batch is one transaction: a conditional update takes the rows that are
    `still_due` (another dispatcher running at the same time takes the others), marks
    them with this batch's claim, and `write` makes the messages for what was claimed.
    A fixed number of queries per batch, whatever the batch holds.
    """
    queued: list[Message] = []
    by_id = {dealership.pk: dealership for dealership in dealerships}
    while True:
        with transaction.atomic():
            ids = list(due.values_list("pk", flat=True)[:BATCH_SIZE])
            if not ids:
                return queued
            token = uuid.uuid4()
            claimed = OnlineCheckIn.objects.filter(still_due, pk__in=ids).update(
                invitation_claim=token, **claim
            )
            if claimed:
                queued += write(_claimed_appointments(ids, token, by_id))
        if len(ids) < BATCH_SIZE:
            return queued


def _write_invitations(appointments: list[Appointment], now: datetime, overrides) -> list[Message]:
    messages, unreachable = [], []
    for appointment in appointments:
        channels = appointment.customer.channels_to_try()
        if channels:
            messages.append(
                compose.build_message(
                    appointment, Purpose.INVITATION, channels[0], now=now, overrides=overrides
                )
            )
        else:
            unreachable.append(appointment)
    Message.objects.bulk_create(messages)
    if unreachable:
        _flag_unreachable(unreachable, now)
    for dealership_id in {appointment.dealership_id for appointment in appointments}:
        list_changed(dealership_id)  # queued, or not reachable
    compose.enqueue(messages)
    return messages


def _flag_unreachable(appointments: list[Appointment], now: datetime) -> None:
    OnlineCheckIn.objects.filter(appointment__in=appointments).update(
        invitation_status=Invitation.UNREACHABLE
    )
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(
            appointment=appointment,
            at=now,
            kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE,
            actor=AppointmentEvent.Actor.SYSTEM,
            detail=AppointmentEvent.NO_USABLE_ADDRESS,
        )
        for appointment in appointments
    )


def dispatch_due_reminders(now: datetime | None = None) -> list[Message]:
    """Queues one reminder, by the invitation's channel, for each customer who has not
    opened their link `REMINDER_HOURS_BEFORE` hours before the appointment."""
    now = now or timezone.now()
    dealerships = _open_dealerships(now, reminders_enabled=True)
    if not dealerships:
        return []
    lead = schedule.reminder_lead()
    due = (
        OnlineCheckIn.objects.still_open(now)
        .filter(
            appointment__dealership__in=dealerships,
            appointment__starts_at__lte=now + lead,
            invitation_status__in=[Invitation.SENT, Invitation.DELIVERED],
            # Only who was invited before the reminder point: a late booking's fresh
            # invitation is not followed by a reminder minutes later.
            invited_at__lt=F("appointment__starts_at") - lead,
            opened_at__isnull=True,
            reminded_at__isnull=True,
        )
        .order_by()
    )
    overrides = compose.overrides_for(d.pk for d in dealerships)

    return _claim_in_batches(
        due,
        dealerships,
        still_due=Q(reminded_at__isnull=True),
        claim={"reminded_at": now},
        write=lambda appointments: _write_reminders(appointments, now, overrides),
    )


def dispatch_due_confirmation_requests(now: datetime | None = None) -> list[Message]:
    """Asks each invited customer who has not said whether they come to reply YES or
    NO, `Dealership.confirmation_request_days` days ahead (in its calendar), once, by
    the customer's preferred usable channel. An answer (`notifications.conversation`)
    by any channel before that makes the request unnecessary."""
    now = now or timezone.now()
    dealerships = [d for d in _open_dealerships(now) if d.confirmation_request_days]
    if not dealerships:
        return []
    horizons = Q()
    for dealership in dealerships:
        today = now.astimezone(dealership.tz).date()
        end = dealership.local_day_bounds(
            today + timedelta(days=dealership.confirmation_request_days)
        )[1]
        horizons |= Q(appointment__dealership=dealership, appointment__starts_at__lt=end)
    due = (
        OnlineCheckIn.objects.still_open(now)
        .filter(horizons)
        .filter(
            appointment__confirmation=Appointment.Confirmation.NO_ANSWER,
            invitation_status__in=[Invitation.SENT, Invitation.DELIVERED],
            # Not straight after the invitation of a late booking.
            invited_at__lt=now - CONFIRMATION_REQUEST_AFTER_INVITATION,
            confirmation_asked_at__isnull=True,
        )
        .order_by()
    )
    overrides = compose.overrides_for(d.pk for d in dealerships)
    return _claim_in_batches(
        due,
        dealerships,
        still_due=Q(confirmation_asked_at__isnull=True),
        claim={"confirmation_asked_at": now},
        write=lambda appointments: _write_confirmation_requests(appointments, now, overrides),
    )


def _write_confirmation_requests(
    appointments: list[Appointment], now: datetime, overrides
) -> list[Message]:
    built = (
        compose.build_preferred(appointment, Purpose.CONFIRM_REQUEST, now=now, overrides=overrides)
        for appointment in appointments
    )
    messages = [message for message in built if message is not None]
    Message.objects.bulk_create(messages)
    compose.enqueue(messages)
    return messages


def _write_reminders(appointments: list[Appointment], now: datetime, overrides) -> list[Message]:
    """Each reminder goes by the channel the invitation went by, if still usable."""
    invited_by = dict(
        Message.objects.filter(
            appointment__in=appointments,
            direction=Message.Direction.OUT,
            purpose=Purpose.INVITATION,
            status__in=[Message.Status.SENT, Message.Status.DELIVERED],
        )
        .order_by("queued_at", "pk")
        .values_list("appointment_id", "channel")
    )
    messages = []
    for appointment in appointments:
        usable = appointment.customer.channels_to_try()
        channel = invited_by.get(appointment.pk)
        if channel not in usable:
            channel = usable[0] if usable else None
        if channel:
            messages.append(
                compose.build_message(
                    appointment, Purpose.REMINDER, channel, now=now, overrides=overrides
                )
            )
    Message.objects.bulk_create(messages)
    compose.enqueue(messages)
    return messages


def _locked_appointment(appointment_id: int) -> Appointment:
    """The appointment with its check-in locked (one sender at a time), in one query."""
    checkin = _with_related(OnlineCheckIn.objects.select_for_update(of=("self",))).get(
        appointment_id=appointment_id
    )
    appointment = checkin.appointment
    appointment.checkin = checkin
    return appointment


def resend_invitation(appointment: Appointment, by) -> Message:
    """Staff send the invitation again, by the customer's preferred usable channel.

    Refused (`ResendTooSoon`) when an invitation or reminder went out in the last 10
    minutes, so a double click or two receptionists never text the customer twice.
    """
    now = timezone.now()
    with transaction.atomic():
        appointment = _locked_appointment(appointment.pk)
        checkin = appointment.checkin
        if not appointment.is_upcoming(now):
            raise CheckInClosed()
        recent = (
            Message.objects.filter(
                appointment=appointment,
                direction=Message.Direction.OUT,
                purpose__in=[Purpose.INVITATION, Purpose.REMINDER],
                queued_at__gte=now - RESEND_INTERVAL,
            )
            .exclude(status__in=[Message.Status.FAILED, Message.Status.CANCELLED])
            .exists()
        )
        if recent:
            raise ResendTooSoon()
        channels = appointment.customer.channels_to_try()
        if not channels:
            raise CustomerUnreachable()
        message = compose.build_message(
            appointment,
            Purpose.INVITATION,
            channels[0],
            now=now,
            overrides=compose.overrides_for([appointment.dealership_id]),
        )
        message.save()
        OnlineCheckIn.objects.filter(pk=checkin.pk).update(
            invitation_status=Invitation.QUEUED, invitation_claim=uuid.uuid4()
        )
        list_changed(appointment.dealership_id)
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=AppointmentEvent.Kind.INVITATION_RESENT,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=message.recipient,
        )
        compose.enqueue([message])
    return message


def queue_confirmation(checkin: OnlineCheckIn) -> Message | None:
    """After the customer sent their check-in: what they chose, with prices incl. VAT,
    by their preferred usable channel and in their language.

    At most one per submission: called again without a new submission (a double tap,
    a resent form) it queues nothing and returns None, as it does when the customer
    has no channel we may use. And at most CHECKIN_MAX_CONFIRMATIONS per check-in, so
    a link cannot be used to message an address over and over: past that, the answers
    are saved and staff see them, only no message goes out.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _with_related(OnlineCheckIn.objects.select_for_update(of=("self",))).get(
            pk=checkin.pk
        )
        if locked.last_answered_at is None:
            return None
        confirmations = Message.objects.filter(
            appointment_id=locked.appointment_id,
            direction=Message.Direction.OUT,
            purpose=Purpose.CONFIRMATION,
            fallback_for__isnull=True,
        )
        if confirmations.filter(queued_at__gte=locked.last_answered_at).exists():
            return None
        if confirmations.count() >= settings.CHECKIN_MAX_CONFIRMATIONS:
            return None
        appointment = locked.appointment
        appointment.checkin = locked
        channels = appointment.customer.channels_to_try()
        if not channels:
            return None
        message = compose.build_message(
            appointment,
            Purpose.CONFIRMATION,
            channels[0],
            now=now,
            overrides=compose.overrides_for([appointment.dealership_id]),
            confirmation=texts.confirmation_for(locked, texts.language_for(appointment)),
        )
        message.save()
        compose.enqueue([message])
    return message


# Which channel tells the former value of each contact detail.
_NOTICE_CHANNEL = {"email": Channel.EMAIL, "phone": Channel.SMS}


def queue_contact_notices(
    appointment: Appointment, changes: Iterable[ContactChange]
) -> list[Message]:
    """After the customer changed their e-mail address or mobile number on the check-in
    page: tells the former address by e-mail and the former number by SMS, as a bank
    does, so a customer whose link someone else holds hears of it.

    The notice names the dealership, the appointment's date and the dealership's phone
    number: nothing the customer typed (not the new address either) and no link, so a
    link's holder cannot use it to relay their words. At most CHECKIN_MAX_CONFIRMATIONS
    per check-in and channel: counted per channel, changing the number over and over
    does not use up the notice the owner of the e-mail address is owed.
    """
    wanted = [c for c in changes if c.field in _NOTICE_CHANNEL and c.old]
    if not wanted:
        return []
    now = timezone.now()
    with transaction.atomic():
        appointment = _locked_appointment(appointment.pk)
        told = dict(
            Message.objects.filter(
                appointment=appointment,
                direction=Message.Direction.OUT,
                purpose=Purpose.CONTACT_CHANGED,
            )
            .values("channel")
            .annotate(count=Count("pk"))
            .values_list("channel", "count")
        )
        notices = []
        for change in wanted:
            channel = _NOTICE_CHANNEL[change.field]
            if channel == Channel.SMS and appointment.customer.sms_opted_out_at is not None:
                continue
            if told.get(channel, 0) >= settings.CHECKIN_MAX_CONFIRMATIONS:
                continue
            notice = compose.build_message(
                appointment, Purpose.CONTACT_CHANGED, channel, now=now, overrides={}
            )
            notice.recipient = change.old
            notices.append(notice)
        Message.objects.bulk_create(notices)
        compose.enqueue(notices)
    return notices
