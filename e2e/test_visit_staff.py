"""The visit at the desk: a receptionist moves an appointment with a note, and takes a car
from arrived to ready to collected from the list (on a tablet) and the appointment page."""

import os
import re
from datetime import datetime, timedelta
from datetime import time as clock

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import log_in
from notifications import visit_news
from notifications.models import Message
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    DealershipFactory,
    MembershipFactory,
    UserFactory,
)
from workshop.models import Appointment, Dealership, Role

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "visit-at-the-desk-123"
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}


def shot(page: Page, name: str) -> None:
    """Screenshots to look at while building the pages (VISIT_SCREENSHOTS=a folder)."""
    folder = os.environ.get("VISIT_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


@pytest.fixture
def desk(live_server):
    dealership = DealershipFactory()
    user = UserFactory(username="desk")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(dealership=dealership, user=user, role=Role.RECEPTIONIST)
    customer = CustomerFactory(
        dealership=dealership,
        first_name="Sofie",
        last_name="Claes",
        language="en",
        preferred_channel="sms",
        phone="+32470998877",
    )
    # Booked today, a minute ago (never yesterday, whatever the hour): not late yet.
    starts_at = timezone.now().replace(second=0, microsecond=0)
    appointment = AppointmentFactory(
        dealership=dealership,
        customer=customer,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        vehicle__plate="1-VIS-001",
    )
    return appointment


@pytest.fixture
def eager_tasks():
    """Messages go out in the request, as the outbox shows them (as in test_outbox.py)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def open_appointment(page: Page, base: str, appointment: Appointment) -> None:
    page.goto(f"{base}/staff/appointments/{appointment.pk}/")
    expect(page.get_by_role("heading", name="Sofie Claes", level=1)).to_be_visible()


def move_with_a_note(page: Page, live_server, appointment: Appointment):
    log_in(page, live_server.url, "desk", PASSWORD)
    open_appointment(page, live_server.url, appointment)
    page.get_by_role("link", name="Move").click()
    dialog = page.get_by_role("dialog", name="Move the appointment")
    expect(dialog).to_be_visible()
    new_day = timezone.localdate(timezone=appointment.dealership.tz) + timedelta(days=3)
    dialog.get_by_label("New date").fill(new_day.isoformat())
    dialog.get_by_label("From").fill("08:30")
    dialog.get_by_label("Until").fill("09:45")
    # Without a note: the error stands next to the field and nothing typed is lost.
    dialog.get_by_role("button", name="Move and tell the customer").click()
    expect(dialog.get_by_text("Write a note for the customer")).to_be_visible()
    expect(dialog.get_by_label("From")).to_have_value("08:30")
    shot(page, "move-dialog-error")
    results = Axe().run(page)  # the page with the move dialog open
    assert results.violations_count == 0, results.generate_report()
    dialog.get_by_label("Note for the customer").fill("The part arrives on Friday.")
    dialog.get_by_role("button", name="Move and tell the customer").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Moved; the customer is told the new time.")).to_be_visible()
    expect(page.locator("#visit")).to_contain_text("1 time")
    return new_day


def test_a_receptionist_moves_an_appointment_with_a_note(live_server, page: Page, desk):
    appointment = desk
    new_day = move_with_a_note(page, live_server, appointment)
    appointment.refresh_from_db()
    local = timezone.localtime(appointment.starts_at, appointment.dealership.tz)
    assert (local.date(), f"{local:%H:%M}") == (new_day, "08:30")
    assert appointment.moves == 1
    shot(page, "appointment-moved")


def test_the_outbox_holds_the_moved_message_with_the_new_date(
    live_server, page: Page, desk, settings, eager_tasks
):
    settings.DEMO_MODE = True
    appointment = desk
    new_day = move_with_a_note(page, live_server, appointment)
    moved = Message.objects.filter(appointment=appointment, direction="out").order_by("-pk")
    assert moved.exists(), "the customer is told about the move"
    page.goto(f"{live_server.url}/notifications/outbox/")
    card = page.get_by_role("article").filter(has_text="Sofie Claes").first
    expect(card).to_contain_text(str(new_day.day))
    expect(card).to_contain_text("08:30")


def test_the_customer_sees_the_new_time_on_reloading_the_page_they_had_open(
    live_server, page: Page, phone_page: Page, desk
):
    """The welcome page is served again while unchanged (`portal.kept_pages`): a move at
    the desk shows on the customer's next load all the same."""
    appointment = desk
    tz = appointment.dealership.tz
    day = timezone.localdate(timezone=tz) + timedelta(days=2)
    start = timezone.make_aware(datetime.combine(day, clock(14, 0)), tz)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=start, ends_at=start + timedelta(hours=1)
    )
    phone_page.goto(f"{live_server.url}/c/{appointment.checkin.token}/")
    phone_page.reload()  # the same page again, unchanged
    expect(phone_page.locator(".when-time")).to_contain_text("14:00")
    move_with_a_note(page, live_server, appointment)
    phone_page.reload()
    expect(phone_page.locator(".when-time")).to_contain_text("08:30")
    expect(phone_page.locator(".when-time")).not_to_contain_text("14:00")


def test_arrived_ready_collected_from_the_list_and_the_page(live_server, browser: Browser, desk):
    appointment = desk
    context = browser.new_context(**TABLET, locale="en-GB")
    page = context.new_page()
    log_in(page, live_server.url, "desk", PASSWORD)
    page.goto(f"{live_server.url}/staff/")
    row = page.get_by_role("row").filter(has_text="1-VIS-001")
    arrived = row.get_by_role("button", name="Arrived")
    box = arrived.bounding_box()
    assert box
    assert box["height"] >= 44
    assert box["width"] >= 44  # a finger at the desk
    shot(page, "list-tablet")
    results = Axe().run(page)  # the list with its visit column and "Arrived" buttons
    assert results.violations_count == 0, results.generate_report()
    arrived.click()
    expect(page.get_by_text("Sofie Claes (1-VIS-001) arrived")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="1-VIS-001")
    expect(row).to_contain_text("Arrived")
    expect(row.get_by_role("button", name="Arrived")).to_have_count(0)

    for action, dialog_name, confirm, state in (
        ("Ready", "Car ready", "Mark ready", "Ready"),
        ("Collected", "Car collected", "Mark collected", "Collected"),
    ):
        page.get_by_role("link", name="Sofie Claes").click()
        section = page.locator("#visit")
        section.get_by_role("link", name=action).click()
        dialog = page.get_by_role("dialog", name=dialog_name)
        dialog.get_by_role("button", name=confirm).click()
        expect(dialog).to_be_hidden()
        expect(section.locator(".visit-state")).to_have_text(re.compile(state))
        shot(page, f"appointment-{state.lower()}")
        page.goto(f"{live_server.url}/staff/")
        expect(page.get_by_role("row").filter(has_text="1-VIS-001")).to_contain_text(state)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.DONE
    context.close()

    # The customer heard of each step once, and is asked for a review the dealership's
    # delay after collecting (the beat's task, at that moment, inside sending hours).
    told = Message.objects.filter(appointment=appointment, direction="out").order_by("pk")
    assert list(told.values_list("purpose", flat=True)) == ["arrived", "ready", "collected"]
    dealership = appointment.dealership
    Dealership.objects.filter(pk=dealership.pk).update(
        sending_days="1234567", sending_starts=clock(0, 0), sending_ends=clock(23, 59)
    )
    assert appointment.collected_at
    due = appointment.collected_at + timedelta(hours=dealership.review_delay_hours, minutes=1)
    assert visit_news.request_reviews(now=due - timedelta(minutes=2)) == 0
    assert visit_news.request_reviews(now=due) == 1
    assert visit_news.request_reviews(now=due) == 0
    review = told.last()
    assert review
    assert review.purpose == "review_request"
    assert appointment.checkin.link in review.body
