"""A new user finds the messages the demo "sent" and opens the customer's link."""

from datetime import time, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from notifications.invitations import dispatch_due_invitations
from tests.factories import AppointmentFactory, CustomerFactory
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Dealership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_tasks():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_reception_opens_the_outbox_and_follows_the_sms_link(
    live_server, page: Page, settings, eager_tasks
):
    settings.DEMO_MODE = True
    settings.SITE_URL = live_server.url
    Seeder().run()
    gent = Dealership.objects.get(slug="leiestreek-gent")
    # Whatever the hour the test runs at, the dealership is sending.
    Dealership.objects.update(
        sending_starts=time(0), sending_ends=time(23, 59, 59), sending_days="1234567"
    )
    customer = CustomerFactory(
        dealership=gent, first_name="Sofie", last_name="Outbox", preferred_channel="sms"
    )
    appointment = AppointmentFactory(
        dealership=gent, customer=customer, starts_at=timezone.now() + timedelta(days=1)
    )

    queued = dispatch_due_invitations()

    assert appointment.pk in {m.appointment_id for m in queued}
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/notifications/outbox/")
    expect(page.get_by_role("heading", name="Outbox", level=1)).to_be_visible()
    card = page.get_by_role("article").filter(
        has=page.get_by_role("heading", name="Invitation to Sofie Outbox")
    )
    expect(card).to_contain_text("Sent")
    link = appointment.checkin.link
    expect(card.get_by_text("Autohuis Leiestreek Gent: dag Sofie")).to_be_visible()
    assert Axe().run(page).violations_count == 0

    card.get_by_role("link", name=link).click()

    page.wait_for_url(link)
    # The customer's own page, in their language (Dutch): greeted by name, ready to check in.
    with translation.override("nl"):
        greeting = gettext("Hello %(name)s") % {"name": "Sofie"}
        start = gettext("Start check-in")
    expect(page.get_by_role("heading", name=greeting)).to_be_visible()
    expect(page.get_by_role("link", name=start)).to_be_visible()
