"""An appointment in the DMS's terms: what the API returns and what a webhook carries.

Prices are strings ("19.95", incl. VAT, the dealership's currency) so no float ever
rounds them; times are ISO 8601 with their offset, in the dealership's time zone."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from workshop.answers import read_answers
from workshop.models import Appointment, Review, WorkItem


def _time(value: datetime | None, appointment: Appointment) -> str | None:
    if value is None:
        return None
    return value.astimezone(appointment.dealership.tz).isoformat()


def _price(value: Decimal) -> str:
    return f"{value:.2f}"


def _work_line(item: WorkItem) -> dict[str, Any]:
    return {
        "description": item.description,
        "notes": item.notes,
        "price": _price(item.price),
        "origin": item.origin,
    }


def _rating(appointment: Appointment) -> dict[str, Any] | None:
    try:
        review = appointment.review
    except Review.DoesNotExist:
        return None
    return {"stars": review.stars, "comment": review.comment}


def appointment_document(appointment: Appointment) -> dict[str, Any]:
    """The appointment with its customer, vehicle, work items and check-in answers.

    A fixed number of queries: the work items, the check-in's items with their offers."""
    customer, vehicle, checkin = appointment.customer, appointment.vehicle, appointment.checkin
    answers = read_answers(checkin)
    sent = answers.sent
    return {
        "reference": appointment.external_ref,
        "dealership": appointment.dealership.slug,
        "status": appointment.status,
        "starts_at": _time(appointment.starts_at, appointment),
        "ends_at": _time(appointment.ends_at, appointment),
        "currency": appointment.dealership.currency,
        # Where the visit stands (`workshop.visit`): the answer, each step's time, how it ended.
        "visit": {
            "confirmation": appointment.confirmation or None,
            "confirmed_at": _time(appointment.confirmation_at, appointment),
            "moves": appointment.moves,
            "arrived_at": _time(appointment.arrived_at, appointment),
            "promised_ready_at": _time(appointment.promised_ready_at, appointment),
            "ready_at": _time(appointment.ready_at, appointment),
            "collected_at": _time(appointment.collected_at, appointment),
            "no_show_at": _time(appointment.no_show_at, appointment),
            "cancelled_at": _time(appointment.cancelled_at, appointment),
            "cancelled_by": appointment.cancelled_by or None,
            "cancel_reason": appointment.cancel_reason,
            "rating": _rating(appointment),
        },
        "customer": {
            "customer_number": customer.external_ref,
            "name": customer.full_name,
            "phone": str(customer.phone or ""),
            "email": customer.email,
            "language": customer.language,
            "preferred_channel": customer.preferred_channel,
        },
        "vehicle": {
            "plate": vehicle.plate,
            "vin": vehicle.vin,
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "mileage": vehicle.mileage_km,
        },
        "work_items": [_work_line(item) for item in appointment.work_items.all()],
        "checkin": {
            "invitation": checkin.invitation_status,
            "invited_at": _time(checkin.invited_at, appointment),
            "opened_at": _time(checkin.opened_at, appointment),
            "answered_at": _time(checkin.last_answered_at, appointment),
            # What the DMS adds to the repair order: the offers the customer accepted.
            "work_lines_to_add": [
                {"description": chosen.name, "price": _price(chosen.price)}
                for chosen in sent.accepted
            ],
            "contact_requested": [{"description": chosen.name} for chosen in sent.contact],
            "remarks": [
                {
                    "subject": remark.subject,
                    "description": remark.description,
                    "state": remark.state,
                }
                for remark in sent.remarks
            ],
            "services_total": _price(sent.services_total),
        },
    }


def with_document_data():
    """Appointments with what `appointment_document` reads joined or prefetched."""
    return Appointment.objects.select_related(
        "dealership", "customer", "vehicle", "checkin", "review"
    ).prefetch_related("work_items")
