"""When invitations and reminders go out: lead days, sending hours and days, time zones."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import delivery
from notifications.invitations import (
    dispatch_due_confirmation_requests,
    dispatch_due_invitations,
    dispatch_due_reminders,
)
from notifications.models import Message
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory
from workshop.models import Appointment, AppointmentEvent, OnlineCheckIn

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
# 2026-11-23 is a Monday.


def local(text: str, tz: ZoneInfo = BRUSSELS) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def invited_refs(messages) -> set[str]:
    return {m.appointment.external_ref for m in messages}


def book(dealership, start: datetime, **fields):
    return AppointmentFactory(
        dealership=dealership, starts_at=start, ends_at=start + timedelta(hours=1), **fields
    )


@pytest.fixture
def gent(db):
    return DealershipFactory(time_zone="Europe/Brussels", invitation_lead_days=3)


def test_invitations_go_out_lead_days_ahead_from_the_start_of_sending_hours(gent):
    with time_machine.travel(local("2026-11-20 12:00"), tick=False) as traveller:
        thursday = book(gent, local("2026-11-26 15:00"), external_ref="THU")
        book(gent, local("2026-11-27 08:00"), external_ref="FRI")  # four days ahead

        traveller.move_to(local("2026-11-22 12:00"))  # Sunday: not a sending day
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-23 08:59"))  # Monday, before sending hours
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-23 09:00"))
        assert invited_refs(dispatch_due_invitations()) == {"THU"}
        traveller.move_to(local("2026-11-23 09:05"))
        assert dispatch_due_invitations() == []  # once

    thursday.checkin.refresh_from_db()
    assert thursday.checkin.invitation_status == OnlineCheckIn.InvitationStatus.QUEUED
    (message,) = Message.objects.filter(appointment=thursday)
    assert message.purpose == "invitation"
    assert message.status == "queued"
    assert "26/11 15:00" in message.body  # the dealership's local time


def test_nothing_goes_out_after_sending_hours(gent):
    with time_machine.travel(local("2026-11-23 19:00"), tick=False):
        book(gent, local("2026-11-24 10:00"))
        assert dispatch_due_invitations() == []


def test_an_appointment_booked_inside_the_window_is_invited_at_the_next_sending_slot(gent):
    gent.sending_days = "12345"
    gent.save()
    with time_machine.travel(local("2026-11-28 19:30"), tick=False) as traveller:  # Saturday
        book(gent, local("2026-11-30 10:00"), external_ref="MON")
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-29 12:00"))  # Sunday
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-30 08:55"))
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-30 09:00"))
        assert invited_refs(dispatch_due_invitations()) == {"MON"}


def test_each_dealership_sends_in_its_own_time_zone(db):
    gent = DealershipFactory(time_zone="Europe/Brussels")
    boston = DealershipFactory(time_zone="America/New_York")
    with time_machine.travel(datetime.fromisoformat("2026-11-23T08:30:00+00:00"), tick=False) as t:
        book(gent, local("2026-11-25 10:00"), external_ref="GENT")
        book(boston, local("2026-11-25 10:00", ZoneInfo("America/New_York")), external_ref="BOS")
        # 09:30 in Gent, 03:30 in Boston.
        assert invited_refs(dispatch_due_invitations()) == {"GENT"}
        t.move_to(datetime.fromisoformat("2026-11-23T14:00:00+00:00"))  # 09:00 in Boston
        assert invited_refs(dispatch_due_invitations()) == {"BOS"}


def test_lead_days_count_in_the_dealership_calendar(db):
    tokyo_tz = ZoneInfo("Asia/Tokyo")
    tokyo = DealershipFactory(time_zone="Asia/Tokyo", invitation_lead_days=3)
    with time_machine.travel(local("2026-11-23 10:00", tokyo_tz), tick=False):
        book(tokyo, local("2026-11-26 23:00", tokyo_tz), external_ref="THU-LATE")
        # Friday 00:30 in Tokyo is still Thursday in UTC: not due yet.
        book(tokyo, local("2026-11-27 00:30", tokyo_tz), external_ref="FRI-EARLY")
        assert invited_refs(dispatch_due_invitations()) == {"THU-LATE"}


def test_only_the_dealership_sending_days_count(gent):
    gent.sending_days = "135"  # Monday, Wednesday, Friday
    gent.save()
    with time_machine.travel(local("2026-11-24 10:00"), tick=False) as traveller:  # Tuesday
        book(gent, local("2026-11-26 10:00"), external_ref="THU")
        assert dispatch_due_invitations() == []
        traveller.move_to(local("2026-11-25 09:00"))  # Wednesday
        assert invited_refs(dispatch_due_invitations()) == {"THU"}


def test_a_cancelled_appointment_is_not_invited(gent):
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        appointment = book(gent, local("2026-11-25 10:00"))
        Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED)
        assert dispatch_due_invitations() == []


def test_a_queued_invitation_is_not_sent_when_the_appointment_is_cancelled_meanwhile(gent, twilio):
    with time_machine.travel(local("2026-11-23 10:00"), tick=True) as traveller:
        appointment = book(gent, local("2026-11-25 10:00"))
        (message,) = dispatch_due_invitations()
        traveller.shift(timedelta(seconds=5))
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()

        assert delivery.send_message(message.pk) is None

    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert "cancelled" in message.error
    assert twilio.requests == []  # nothing left the building
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.invitation_status == OnlineCheckIn.InvitationStatus.NOT_DUE


def test_an_appointment_moved_out_of_the_window_waits_for_its_new_date(gent, twilio):
    with time_machine.travel(local("2026-11-23 10:00"), tick=True) as traveller:
        appointment = book(gent, local("2026-11-25 10:00"))
        (message,) = dispatch_due_invitations()
        traveller.shift(timedelta(seconds=5))
        appointment.starts_at = local("2026-12-02 10:00")
        appointment.ends_at = local("2026-12-02 11:00")
        appointment.save()

        delivery.send_message(message.pk)
        message.refresh_from_db()
        assert message.status == Message.Status.CANCELLED
        assert twilio.requests == []
        assert dispatch_due_invitations() == []  # re-evaluated: not due yet

        traveller.move_to(local("2026-11-28 09:00"))  # Saturday: four days before
        assert dispatch_due_invitations() == []
        # Due on Sunday, three days before, which is not a sending day: Monday morning.
        traveller.move_to(local("2026-11-30 09:00"))
        (again,) = dispatch_due_invitations()
        assert "02/12 10:00" in again.body


def test_an_appointment_moved_within_the_window_is_sent_with_its_new_time(gent, twilio):
    with time_machine.travel(local("2026-11-23 10:00"), tick=True) as traveller:
        appointment = book(gent, local("2026-11-25 10:00"))
        (message,) = dispatch_due_invitations()
        traveller.shift(timedelta(seconds=5))
        appointment.starts_at = local("2026-11-25 14:30")
        appointment.ends_at = local("2026-11-25 15:30")
        appointment.save()

        delivery.send_message(message.pk)

    (sent,) = twilio.sends()
    assert "25/11 14:30" in sent["Body"]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert "14:30" in message.body


def test_a_customer_without_any_usable_channel_is_flagged_not_reachable(gent):
    customer = CustomerFactory(dealership=gent, phone="", email="")
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        appointment = book(gent, local("2026-11-25 10:00"), customer=customer)
        assert dispatch_due_invitations() == []
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.invitation_status == OnlineCheckIn.InvitationStatus.UNREACHABLE
    assert appointment.events.filter(kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE).exists()


def test_the_preferred_channel_and_language_are_used(gent):
    by_mail = CustomerFactory(dealership=gent, preferred_channel="email", language="de")
    no_phone = CustomerFactory(dealership=gent, preferred_channel="sms", phone="", language="fr")
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        book(gent, local("2026-11-25 10:00"), customer=by_mail, external_ref="MAIL")
        book(gent, local("2026-11-25 11:00"), customer=no_phone, external_ref="NOPHONE")
        messages = {m.appointment.external_ref: m for m in dispatch_due_invitations()}
    assert (messages["MAIL"].channel, messages["MAIL"].language) == ("email", "de")
    assert messages["MAIL"].subject.startswith("Online-Check-in für Ihren Termin am Mittwoch")
    assert (messages["NOPHONE"].channel, messages["NOPHONE"].language) == ("email", "fr")


def test_the_dispatcher_runs_a_fixed_number_of_queries_whatever_the_number_due(gent):
    captured_sql: list = []

    def queries_for(count: int, day: str) -> int:
        with time_machine.travel(local(f"{day} 10:00"), tick=False):
            for hour in range(count):
                book(gent, local(f"{day} 10:00") + timedelta(days=1, minutes=hour))
            with CaptureQueriesContext(connection) as captured:
                assert len(dispatch_due_invitations()) == count
        captured_sql[:] = captured.captured_queries
        # SQLite takes at most 999 parameters a statement, so Django splits a bulk insert
        # of many messages into several; PostgreSQL gets one. Count an insert once.
        statements = [q["sql"].split(" (")[0] for q in captured.captured_queries]
        return len([s for i, s in enumerate(statements) if i == 0 or s != statements[i - 1]])

    few, many = queries_for(2, "2026-11-23"), queries_for(40, "2026-11-30")
    assert few == many
    # Dealerships and their own texts; then per batch: find, claim, read back, insert
    # (plus, inside a test's transaction, a savepoint and its release).
    assert many <= 8, "\n".join(q["sql"][:120] for q in captured_sql)


def test_the_command_queues_what_is_due_and_says_so(gent, capsys):
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        appointment = book(gent, local("2026-11-25 10:00"), external_ref="DMS-CMD")
        call_command("send_due_invitations")
    out = capsys.readouterr().out
    assert f"{gent.slug} DMS-CMD 2026-11-25 10:00 sms nl -> +32470123456" in out
    assert "Queued 1 invitation(s)." in out
    assert appointment.messages.count() == 1


# --- Reminders ----------------------------------------------------------------------


@pytest.fixture
def invited_on_monday(gent, eager_tasks, django_capture_on_commit_callbacks):
    with time_machine.travel(local("2026-11-23 09:00"), tick=False):
        appointment = book(gent, local("2026-11-26 15:00"))
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_due_invitations()
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.invitation_status == OnlineCheckIn.InvitationStatus.SENT
    return appointment


def test_a_reminder_goes_out_once_when_the_link_is_unopened_a_day_before(invited_on_monday):
    with time_machine.travel(local("2026-11-25 14:55"), tick=False) as traveller:
        assert dispatch_due_reminders() == []
        traveller.move_to(local("2026-11-25 15:00"))
        (reminder,) = dispatch_due_reminders()
        traveller.move_to(local("2026-11-25 15:05"))
        assert dispatch_due_reminders() == []
    assert reminder.purpose == "reminder"
    assert reminder.channel == "sms"  # the invitation's channel
    assert "26/11 om 15:00" in reminder.body  # the local day and time, in Dutch


def test_no_reminder_when_the_link_was_opened(invited_on_monday):
    OnlineCheckIn.objects.filter(pk=invited_on_monday.checkin.pk).update(
        opened_at=local("2026-11-24 08:00")
    )
    with time_machine.travel(local("2026-11-25 16:00"), tick=False):
        assert dispatch_due_reminders() == []


def test_no_reminder_where_the_dealership_turned_them_off(invited_on_monday):
    invited_on_monday.dealership.reminders_enabled = False
    invited_on_monday.dealership.save()
    with time_machine.travel(local("2026-11-25 16:00"), tick=False):
        assert dispatch_due_reminders() == []


def test_a_reminder_waits_for_sending_hours(invited_on_monday, gent):
    invited_on_monday.starts_at = local("2026-11-26 08:00")
    invited_on_monday.ends_at = local("2026-11-26 09:00")
    invited_on_monday.save()
    with time_machine.travel(local("2026-11-25 08:30"), tick=False) as traveller:
        assert dispatch_due_reminders() == []  # before 09:00
        traveller.move_to(local("2026-11-25 09:00"))
        assert len(dispatch_due_reminders()) == 1


def test_no_reminder_right_after_a_late_invitation(
    gent, eager_tasks, django_capture_on_commit_callbacks
):
    with time_machine.travel(local("2026-11-25 16:00"), tick=False):
        book(gent, local("2026-11-26 10:00"))  # booked the day before
        with django_capture_on_commit_callbacks(execute=True):
            assert len(dispatch_due_invitations()) == 1
        assert dispatch_due_reminders() == []


def test_the_beat_schedule_runs_the_dispatcher_every_interval(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["dispatch-invitations"]
    assert entry["task"] == "notifications.dispatch"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == timedelta(seconds=settings.INVITATION_DISPATCH_SECONDS)
    assert settings.INVITATION_DISPATCH_SECONDS == 300
    assert settings.REMINDER_HOURS_BEFORE == 24
    assert time(9) == DealershipFactory.build().sending_starts


def test_a_queued_reminder_is_dropped_when_the_link_is_opened_meanwhile(invited_on_monday, twilio):
    with time_machine.travel(local("2026-11-25 15:00"), tick=False):
        (reminder,) = dispatch_due_reminders()
        OnlineCheckIn.objects.filter(pk=invited_on_monday.checkin.pk).update(
            opened_at=local("2026-11-25 15:00")
        )
        delivery.send_message(reminder.pk)
    reminder.refresh_from_db()
    assert reminder.status == Message.Status.CANCELLED
    assert twilio.requests == []


# --- Asking to confirm ("reply YES or NO") ---------------------------------------------


def test_the_request_to_confirm_goes_out_once_the_morning_a_day_before(invited_on_monday):
    with time_machine.travel(local("2026-11-24 12:00"), tick=False) as traveller:
        assert dispatch_due_confirmation_requests() == []  # two days before
        traveller.move_to(local("2026-11-25 08:59"))
        assert dispatch_due_confirmation_requests() == []  # before sending hours
        traveller.move_to(local("2026-11-25 09:00"))
        (request,) = dispatch_due_confirmation_requests()
        traveller.move_to(local("2026-11-25 09:05"))
        assert dispatch_due_confirmation_requests() == []  # once
    assert (request.purpose, request.channel) == ("confirm_request", "sms")
    assert "Antwoord JA" in request.body  # in the customer's language
    assert "26/11 om 15:00" in request.body


def test_no_request_to_confirm_once_the_customer_answered_or_where_it_is_off(
    invited_on_monday, gent
):
    Appointment.objects.filter(pk=invited_on_monday.pk).update(confirmation="declined")
    with time_machine.travel(local("2026-11-25 10:00"), tick=False):
        assert dispatch_due_confirmation_requests() == []
    Appointment.objects.filter(pk=invited_on_monday.pk).update(confirmation="")
    gent.confirmation_request_days = 0
    gent.save()
    with time_machine.travel(local("2026-11-25 10:00"), tick=False):
        assert dispatch_due_confirmation_requests() == []


def test_a_request_to_confirm_is_not_sent_when_the_customer_answered_meanwhile(
    invited_on_monday,
):
    with time_machine.travel(local("2026-11-25 09:00"), tick=False):
        (request,) = dispatch_due_confirmation_requests()
        Appointment.objects.filter(pk=invited_on_monday.pk).update(confirmation="confirmed")
        delivery.send_message(request.pk)
    request.refresh_from_db()
    assert request.status == Message.Status.CANCELLED
    assert request.error == "Not sent: the customer answered meanwhile."


def test_no_request_to_confirm_right_after_a_late_invitation(
    gent, eager_tasks, django_capture_on_commit_callbacks
):
    with time_machine.travel(local("2026-11-25 16:00"), tick=False):
        book(gent, local("2026-11-26 10:00"))  # booked the day before
        with django_capture_on_commit_callbacks(execute=True):
            assert len(dispatch_due_invitations()) == 1
        assert dispatch_due_confirmation_requests() == []
