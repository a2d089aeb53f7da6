"""Booking appointments: how the DMS, staff and the demo seeder put work in the planner."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction

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


def book_appointments(bookings: Sequence[Booking], *, confirm: bool = True) -> list[Appointment]:
    """Creates the appointments with their online check-ins and planned work items, in
    three INSERTs however many there are (the DMS import books hundreds at a time).

    With `confirm` (staff, the DMS's import and API), each customer booked for a later
    day than today gets a booking confirmation with the date, the address and the
    appointment for their calendar (`notifications.visit_news.confirm_bookings`), in
    the same transaction; the demo seeder books without, so the outbox shows what
    the demo does, not hundreds of confirmations."""
    # notifications builds on workshop: imported when booking, not with the module.
    from notifications import visit_news

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
        if confirm:
            visit_news.confirm_bookings([appointment.pk for appointment in appointments])
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
    confirm: bool = True,
    **fields: object,
) -> Appointment:
    """Creates the appointment with its online check-in and planned work items (and
    the booking confirmation, see `book_appointments`)."""
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
        ],
        confirm=confirm,
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


def update_appointment(appointment: Appointment, **fields: object) -> bool:
    """Sets plain fields (customer, vehicle, advisor, status back to scheduled) that
    differ; returns whether anything was written. Times go through `workshop.visit.move`."""
    changed = [name for name, value in fields.items() if getattr(appointment, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(appointment, name, fields[name])
    appointment.save(update_fields=[*changed, "updated_at"])
    list_changed(appointment.dealership_id)
    return True
