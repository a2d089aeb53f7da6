import re

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Appointment, Dealership

pytestmark = pytest.mark.django_db(transaction=True)


def test_reception_logs_in_and_sees_todays_appointments(live_server, page: Page):
    Seeder().run()
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("^Appointments"), level=1)).to_be_visible()
    first = Dealership.objects.order_by("name").first()
    from django.utils import timezone

    today = timezone.localdate(timezone=first.tz)
    todays = Appointment.objects.for_day(first, today)
    assert todays.exists()
    # Today's appointments: in the day's table, or pinned on top while they have open items.
    for appointment in todays:
        expect(page.get_by_role("row").filter(has_text=appointment.vehicle.plate)).to_be_visible()


def test_a_wrong_password_is_refused(live_server, page: Page):
    Seeder().run()
    log_in(page, live_server.url, "reception", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
