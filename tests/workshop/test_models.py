from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import (
    AppointmentFactory,
    DealershipFactory,
    RemarkFactory,
    UserFactory,
    WorkItemFactory,
)
from workshop.models import Appointment, CheckInItem, OnlineCheckIn

pytestmark = pytest.mark.django_db


def test_external_reference_is_unique_per_dealership():
    first = AppointmentFactory(external_ref="DMS-1")
    AppointmentFactory(external_ref="DMS-1")  # another dealership may reuse it
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(dealership=first.dealership, external_ref="DMS-1")


def test_an_appointment_has_one_online_checkin():
    appointment = AppointmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OnlineCheckIn.objects.create(appointment=appointment)


def test_a_handled_item_needs_a_handler_and_a_time():
    item = RemarkFactory()
    item.state = CheckInItem.State.HANDLED
    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()
    item.handled_by = UserFactory()
    item.handled_at = timezone.now()
    item.save()
    assert CheckInItem.objects.get(pk=item.pk).state == CheckInItem.State.HANDLED


def test_an_appointment_ends_after_it_starts():
    start = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(starts_at=start, ends_at=start)


def test_a_remark_needs_a_subject():
    with pytest.raises(IntegrityError), transaction.atomic():
        RemarkFactory(subject="")


def test_for_day_is_the_dealerships_day_in_its_time_zone():
    dealership = DealershipFactory(time_zone="Europe/Brussels")
    tz = ZoneInfo("Europe/Brussels")
    # 00:30 in Brussels on the 2nd is still the 1st in UTC.
    early = AppointmentFactory(
        dealership=dealership, starts_at=datetime(2026, 12, 2, 0, 30, tzinfo=tz)
    )
    AppointmentFactory(dealership=dealership, starts_at=datetime(2026, 12, 1, 23, 30, tzinfo=tz))
    AppointmentFactory(starts_at=datetime(2026, 12, 2, 10, 0, tzinfo=tz))  # another dealership
    day = Appointment.objects.for_day(dealership, date(2026, 12, 2))
    assert list(day) == [early]


def test_a_dealerships_day_is_23_hours_long_when_the_clocks_go_forward():
    dealership = DealershipFactory(time_zone="Europe/Brussels")
    start, end = dealership.local_day_bounds(date(2026, 3, 29))
    utc = ZoneInfo("UTC")
    assert start.astimezone(utc) == datetime(2026, 3, 28, 23, 0, tzinfo=utc)
    assert end.astimezone(utc) == datetime(2026, 3, 29, 22, 0, tzinfo=utc)


def test_pinned_means_at_least_one_open_item():
    pinned = RemarkFactory().checkin.appointment
    handled = RemarkFactory(
        state=CheckInItem.State.HANDLED, handled_by=UserFactory(), handled_at=timezone.now()
    ).checkin.appointment
    AppointmentFactory()
    assert list(Appointment.objects.pinned()) == [pinned]
    assert pinned.is_pinned
    assert not handled.is_pinned
    counted = Appointment.objects.with_open_items().order_by("pk")
    assert [(a.pk, a.open_items, a.is_pinned) for a in counted] == [
        (pinned.pk, 1, True),
        (handled.pk, 0, False),
        (counted[2].pk, 0, False),
    ]


def test_for_dealerships_keeps_to_those_dealerships():
    mine = AppointmentFactory()
    AppointmentFactory()
    assert list(Appointment.objects.for_dealerships([mine.dealership])) == [mine]


def test_total_price_adds_up_work_items_incl_vat():
    appointment = AppointmentFactory(starts_at=timezone.now() + timedelta(days=1))
    WorkItemFactory(appointment=appointment, price="100.10")
    WorkItemFactory(appointment=appointment, price="0.20")
    assert str(appointment.total_price()) == "100.30"


def test_rotating_the_link_changes_the_token():
    checkin = AppointmentFactory().checkin
    old = checkin.token
    checkin.rotate_link()
    checkin.refresh_from_db()
    assert checkin.token != old
    assert len(checkin.token) == 26


def test_a_checkin_is_open_until_its_scheduled_appointment_starts():
    now = timezone.now()
    cases = {
        "later": (Appointment.Status.SCHEDULED, now + timedelta(minutes=1), True),
        "starting now": (Appointment.Status.SCHEDULED, now, False),
        "started": (Appointment.Status.SCHEDULED, now - timedelta(minutes=1), False),
        "cancelled": (Appointment.Status.CANCELLED, now + timedelta(days=1), False),
        "done": (Appointment.Status.DONE, now + timedelta(days=1), False),
    }
    for ref, (status, starts_at, _open) in cases.items():
        AppointmentFactory(external_ref=ref, status=status, starts_at=starts_at)

    still_open = set(
        OnlineCheckIn.objects.still_open(now).values_list("appointment__external_ref", flat=True)
    )
    upcoming = set(Appointment.objects.upcoming(now).values_list("external_ref", flat=True))
    assert still_open == upcoming == {ref for ref, case in cases.items() if case[2]}
    for checkin in OnlineCheckIn.objects.select_related("appointment"):
        expected = cases[checkin.appointment.external_ref][2]
        assert checkin.appointment.is_upcoming(now) is expected
        assert checkin.is_closed is not (checkin.appointment.is_upcoming())
