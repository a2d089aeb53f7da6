"""An appointment's timeline: messages out and in, and every customer and staff action."""

from dataclasses import dataclass
from datetime import datetime

from notifications.models import Message
from workshop.models import Appointment, AppointmentEvent


@dataclass(frozen=True)
class Entry:
    at: datetime
    event: AppointmentEvent | None = None
    message: Message | None = None


def timeline_for(appointment: Appointment) -> list[Entry]:
    """Oldest first; two queries whatever the length. Times are UTC: show them in the
    dealership's time zone."""
    events = appointment.events.select_related("user")
    messages = Message.objects.for_appointment(appointment).select_related("author")
    entries = [Entry(at=e.at, event=e) for e in events]
    entries += [Entry(at=m.received_at or m.queued_at, message=m) for m in messages]
    return sorted(entries, key=lambda entry: entry.at)
