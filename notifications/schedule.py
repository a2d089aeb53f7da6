"""When messages may go out: each dealership's sending hours and days, in its time zone."""

from datetime import datetime, timedelta

from django.conf import settings

from workshop.models import Appointment, Dealership


def window_open(dealership: Dealership, now: datetime) -> bool:
    """Inside the dealership's sending hours, on one of its sending days, locally."""
    return dealership.in_sending_hours(now)


def next_sending_time(dealership: Dealership, now: datetime) -> datetime:
    """`now` inside the dealership's sending hours; else when they next open."""
    if window_open(dealership, now):
        return now
    today = now.astimezone(dealership.tz).date()
    for days in range(8):
        day = today + timedelta(days=days)
        opens = datetime.combine(day, dealership.sending_starts, tzinfo=dealership.tz)
        if opens > now and dealership.sends_on(day):
            return opens
    return now  # no sending day at all: as soon as possible


def invitation_horizon(dealership: Dealership, now: datetime) -> datetime:
    """Appointments starting before this instant are due for their invitation.

    Lead days count in the dealership's calendar: with 3, everyone booked for Thursday
    is invited on Monday from the start of the sending hours, whatever their hour.
    """
    today = now.astimezone(dealership.tz).date()
    return dealership.local_day_bounds(today + timedelta(days=dealership.invitation_lead_days))[1]


def invitation_due(appointment: Appointment, now: datetime) -> bool:
    return appointment.is_upcoming(now) and appointment.starts_at < invitation_horizon(
        appointment.dealership, now
    )


def reminder_lead() -> timedelta:
    return timedelta(hours=settings.REMINDER_HOURS_BEFORE)
