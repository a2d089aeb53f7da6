"""The visit's steps reach the DMS: arrived, ready, collected and no-show as signed
webhooks to a real local receiver; the DMS's own moves, cancellations and re-bookings
tell the customer as staff's do."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from integrations.models import Webhook, WebhookDelivery
from notifications.models import Message
from tests.integrations.receiver import Receiver
from tests.integrations.support import csv_text, import_csv, row
from workshop import visit
from workshop.models import Appointment

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
VISIT_EVENTS = [
    "appointment.arrived",
    "appointment.ready",
    "appointment.collected",
    "appointment.no_show",
]


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(datetime(2026, 12, 1, 10, tzinfo=BRUSSELS), tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _local_receiver_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(gent, receiver):
    hook = Webhook(dealership=gent, url=receiver.url)
    hook.set_events(VISIT_EVENTS)
    hook.save()
    receiver.secret = hook.secret
    return hook


@pytest.fixture
def booked(gent):
    import_csv(gent, csv_text([row(starts_at="2026-12-01T09:30", ends_at="2026-12-01T11:00")]))
    return Appointment.objects.select_related("dealership").get()


def test_arrived_ready_and_collected_reach_the_dms_signed_once_each(
    endpoint, receiver, booked, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert visit.arrive(booked, user=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert visit.ready(booked, user=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert visit.collect(booked, user=None)
        assert not visit.collect(booked, user=None)  # pressed twice: one event

    assert receiver.refused == 0
    assert [(p["type"], p["data"]["status"]) for p in receiver.payloads] == [
        ("appointment.arrived", "arrived"),
        ("appointment.ready", "ready"),
        ("appointment.collected", "done"),
    ]
    assert {p["data"]["reference"] for p in receiver.payloads} == {"WO-1"}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_no_show_reaches_the_dms(
    endpoint, receiver, booked, december, eager_tasks, django_capture_on_commit_callbacks
):
    december.shift(timedelta(minutes=30))  # 10:30: the 09:30 car is late enough
    with django_capture_on_commit_callbacks(execute=True):
        assert visit.no_show(booked, user=None)

    (payload,) = receiver.payloads
    assert (payload["type"], payload["data"]["status"]) == ("appointment.no_show", "no_show")


def test_an_endpoint_not_listening_for_the_visit_gets_nothing(gent, receiver, booked):
    hook = Webhook(dealership=gent, url=receiver.url)
    hook.set_events(["checkin.sent"])
    hook.save()
    visit.arrive(booked, user=None)
    assert not WebhookDelivery.objects.exists()


# --- What the DMS does tells the customer ---------------------------------------------------


def test_a_dms_move_tells_the_customer_the_new_time_without_a_note(gent):
    import_csv(gent, csv_text([row()]))
    import_csv(gent, csv_text([row(starts_at="2027-01-14T13:00", ends_at="2027-01-14T14:00")]))

    moved = Message.objects.get(purpose="moved")
    assert "14/01 13:00" in moved.body
    assert Appointment.objects.get().moves == 1


def test_a_dms_cancellation_is_told_politely_and_booking_again_clears_it(gent):
    import_csv(gent, csv_text([row()]))
    import_csv(gent, csv_text([row(status="cancelled")]))
    cancelled = Appointment.objects.get()
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "dms")
    assert cancelled.cancelled_at is not None
    assert Message.objects.filter(purpose="cancelled").count() == 1

    outcome = import_csv(gent, csv_text([row(status="scheduled")]))

    assert outcome.counts["changed"] == 1
    again = Appointment.objects.get()
    assert (again.status, again.cancelled_at, again.cancelled_by, again.cancel_reason) == (
        "scheduled",
        None,
        "",
        "",
    )
    assert Message.objects.filter(purpose="booked").count() == 2  # when booked, and again
    assert import_csv(gent, csv_text([row(status="scheduled")])).counts["unchanged"] == 1
    assert Message.objects.filter(purpose="booked").count() == 2
