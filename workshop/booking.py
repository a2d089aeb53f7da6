"""Booking appointments: how the DMS, staff and the demo seeder put work in the planner."""

from collections.abc import Sequence
from dataclasses import dataclass
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
    with transaction.atomic():
        appointment = Appointment.objects.create(
            dealership=dealership,
            customer=customer,
            vehicle=vehicle,
            starts_at=starts_at,
            ends_at=ends_at,
            external_ref=external_ref,
            **fields,
        )
        OnlineCheckIn.objects.create(appointment=appointment)
        list_changed(dealership.pk)
        WorkItem.objects.bulk_create(
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
        )
    return appointment
