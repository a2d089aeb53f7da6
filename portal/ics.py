"""The appointment as an iCalendar file, for the customer's own calendar."""

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from workshop.models import Appointment


def appointment_ics(appointment: Appointment, host: str) -> bytes:
    """One VEVENT in the dealership's time zone (with its VTIMEZONE).

    The UID is the appointment's, and SEQUENCE counts its moves (`Appointment.moves`):
    a calendar that has the event replaces it with the newer one, also from a second
    e-mail. A cancelled appointment comes as STATUS:CANCELLED."""
    dealership = appointment.dealership
    vehicle = appointment.vehicle
    calendar = Calendar()
    calendar.add("prodid", "-//Pitlane//Online check-in//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    # Stable per appointment, so importing again updates the entry instead of adding one.
    event.add("uid", f"appointment-{appointment.pk}@{host}")
    event.add("dtstamp", timezone.now())
    event.add("sequence", appointment.moves)
    cancelled = appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("dtstart", appointment.local_start)
    event.add("dtend", appointment.local_end)
    event.add(
        "summary",
        _("Workshop appointment: %(vehicle)s")
        % {"vehicle": f"{vehicle.make} {vehicle.model} ({vehicle.plate})"},
    )
    event.add("location", f"{dealership.name}, {dealership.address}")
    event.add(
        "description",
        _("%(dealership)s, phone %(phone)s")
        % {"dealership": dealership.name, "phone": dealership.phone.as_international},
    )
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
