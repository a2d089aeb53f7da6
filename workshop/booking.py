"""Booking appointments: how the DMS, staff and the demo seeder put work in the planner."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from integrations import events
from workshop.daylist import list_changed
from workshop.models import Appointment, Customer, Dealership, OnlineCheckIn, Vehicle, WorkItem


@dataclass(frozen=True)
class PlannedWork:
    description: str
    price: Decimal
    notes: str = ""


def planned_items(
    appointment: Appointment, planned_work: Sequence[PlannedWork], dealership: Dealership
) -> list[WorkItem]:
    """The appointment's planned work items, numbered from 1, at the dealership's VAT."""
    return [
        WorkItem(
            appointment=appointment,
            description=work.description,
            notes=work.notes,
            price=work.price,
            vat_rate=dealership.vat_rate,
            origin=WorkItem.Origin.PLANNED,
            position=position,
        )
        for position, work in enumerate(planned_work, start=1)
    ]


@dataclass(frozen=True)
class Booking:
    """One appointment to book: who, what car, when, the DMS reference, planned work,
    and any other appointment field (`status`, `advisor_id`...)."""

    dealership: Dealership
    customer: Customer
    vehicle: Vehicle
    starts_at: datetime
    ends_at: datetime
    external_ref: str
    planned_work: Sequence[PlannedWork] = ()
    fields: Mapping[str, object] = field(default_factory=dict)


def book_appointments(bookings: Sequence[Booking]) -> list[Appointment]:
    """Creates the appointments with their online check-ins and planned work items, in
    three INSERTs however many there are (the DMS import books hundreds at a time)."""
    with transaction.atomic():
        appointments = Appointment.objects.bulk_create(
            Appointment(
                dealership=booking.dealership,
                customer=booking.customer,
                vehicle=booking.vehicle,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                external_ref=booking.external_ref,
                **booking.fields,
            )
            for booking in bookings
        )
        OnlineCheckIn.objects.bulk_create(
            OnlineCheckIn(appointment=appointment) for appointment in appointments
        )
        WorkItem.objects.bulk_create(
            item
            for appointment, booking in zip(appointments, bookings, strict=True)
            for item in planned_items(appointment, booking.planned_work, booking.dealership)
        )
        for dealership_id in {booking.dealership.pk for booking in bookings}:
            list_changed(dealership_id)
    return appointments


def book_appointment(
    *,
    dealership: Dealership,
    customer: Customer,
    vehicle: Vehicle,
    starts_at: datetime,
    ends_at: datetime,
    external_ref: str,
    planned_work: Sequence[PlannedWork] = (),
    **fields: object,
) -> Appointment:
    """Creates the appointment with its online check-in and planned work items."""
    (appointment,) = book_appointments(
        [
            Booking(
                dealership=dealership,
                customer=customer,
                vehicle=vehicle,
                starts_at=starts_at,
                ends_at=ends_at,
                external_ref=external_ref,
                planned_work=planned_work,
                fields=fields,
            )
        ]
    )
    return appointment


def replace_planned_work(appointment: Appointment, planned_work: Sequence[PlannedWork]) -> bool:
    """Makes the appointment's planned work items what the DMS sends; work items staff or
    customers added stay. Returns whether anything changed (the same lines: no writes)."""
    current = list(
        appointment.work_items.filter(origin=WorkItem.Origin.PLANNED).order_by("position", "pk")
    )
    wanted = [(w.description, w.notes, w.price) for w in planned_work]
    if [(w.description, w.notes, w.price) for w in current] == wanted:
        return False
    with transaction.atomic():
        WorkItem.objects.filter(pk__in=[w.pk for w in current]).delete()
        WorkItem.objects.bulk_create(
            planned_items(appointment, planned_work, appointment.dealership)
        )
    return True


def _withdraw_pending(appointment: Appointment, reason: str) -> int:
    """Invitations and reminders written but not yet sent are not sent any more."""
    # Through the reverse relation: workshop's modules do not import notifications.
    Message = appointment.messages.model
    return appointment.messages.filter(
        direction=Message.Direction.OUT,
        status=Message.Status.QUEUED,
        purpose__in=[Message.Purpose.INVITATION, Message.Purpose.REMINDER],
    ).update(status=Message.Status.CANCELLED, error=reason)


# Kept in English in `Message.error`, translated where staff read it (as in delivery.py).
MOVED_BEFORE_SENDING = gettext_noop(
    "Not sent: the appointment moved; the invitation goes out when it is due."
)


def move_appointment(appointment: Appointment, *, starts_at: datetime, ends_at: datetime) -> bool:
    """Gives the appointment a new time; returns False when it already had that time.

    The customer is invited (and reminded) again for the new date, once: the invitation
    and reminder not sent yet are withdrawn, and the check-in's invitation goes back to
    "not due" for the dispatcher, which claims it once when the new date falls due.
    """
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.starts_at == starts_at and locked.ends_at == ends_at:
            return False
        moved = locked.starts_at != starts_at
        locked.starts_at, locked.ends_at = starts_at, ends_at
        changed = ["starts_at", "ends_at", "updated_at"]
        if moved:
            # A yes or no was for the old date: the customer is asked again for the new one.
            locked.confirmation, locked.confirmation_at = Appointment.Confirmation.NO_ANSWER, None
            changed += ["confirmation", "confirmation_at"]
        locked.save(update_fields=changed)
        appointment.starts_at, appointment.ends_at = starts_at, ends_at
        appointment.confirmation, appointment.confirmation_at = (
            locked.confirmation,
            locked.confirmation_at,
        )
        appointment.updated_at = locked.updated_at
        list_changed(locked.dealership_id)
        if moved:
            _withdraw_pending(locked, MOVED_BEFORE_SENDING)
            OnlineCheckIn.objects.filter(appointment=locked).update(
                invitation_status=OnlineCheckIn.InvitationStatus.NOT_DUE,
                invitation_claim=None,
                invited_at=None,
                reminded_at=None,
                confirmation_asked_at=None,
            )
            events.emit(locked.pk, events.APPOINTMENT_MOVED)
    return True


def cancel_appointment(appointment: Appointment) -> bool:
    """Cancels a scheduled appointment; returns False when it was not scheduled.

    Messages not sent yet stay unsent: `notifications.delivery` cancels any message whose
    appointment is no longer scheduled when its turn comes."""
    with transaction.atomic():
        cancelled = Appointment.objects.filter(
            pk=appointment.pk, status=Appointment.Status.SCHEDULED
        ).update(status=Appointment.Status.CANCELLED, updated_at=timezone.now())
        if not cancelled:
            return False
        appointment.refresh_from_db(fields=["status", "updated_at"])
        list_changed(appointment.dealership_id)
        events.emit(appointment.pk, events.APPOINTMENT_CANCELLED)
    return True


def update_appointment(appointment: Appointment, **fields: object) -> bool:
    """Sets plain fields (customer, vehicle, advisor, status back to scheduled) that
    differ; returns whether anything was written. Times go through `move_appointment`."""
    changed = [name for name, value in fields.items() if getattr(appointment, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(appointment, name, fields[name])
    appointment.save(update_fields=[*changed, "updated_at"])
    list_changed(appointment.dealership_id)
    return True
