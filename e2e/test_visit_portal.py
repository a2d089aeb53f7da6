"""The visit from the customer's phone (360 px wide, the narrowest common screen), in a
real Chromium against the live server: cancelling, asking for another date, rating;
and the receptionist's list showing what the customer did, pinned."""

import os
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import PHONE, log_in
from workshop import visit
from workshop.booking import PlannedWork, book_appointment
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Appointment, CheckInItem, Customer, Dealership, Review, Vehicle

pytestmark = pytest.mark.django_db(transaction=True)

GENT = "Autohuis Leiestreek Gent"
NARROW_PHONE = {**PHONE, "viewport": {"width": 360, "height": 740}}
# Where the pages' screenshots go, to look at them (`SCREENSHOTS=/some/folder`).
SHOTS = Path(os.environ.get("SCREENSHOTS", "")) if os.environ.get("SCREENSHOTS") else None

Kind, State = CheckInItem.Kind, CheckInItem.State


def nl(text: str, context: str = "") -> str:
    with translation.override("nl"):
        return pgettext(context, text) if context else gettext(text)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def phone(browser: Browser):
    context = browser.new_context(**NARROW_PHONE, locale="nl-BE")
    page = context.new_page()
    yield page
    context.close()


def book(plate: str, *, days_ahead: int) -> Appointment:
    """An appointment in the seeded Gent dealership, booked as the DMS books them."""
    gent = Dealership.objects.get(name=GENT)
    day = timezone.localdate(timezone=gent.tz) + timedelta(days=days_ahead)
    starts_at = datetime.combine(day, time(10, 0), tzinfo=gent.tz)
    return book_appointment(
        dealership=gent,
        customer=Customer.objects.create(
            dealership=gent,
            first_name="Sofie",
            last_name="Claes",
            email="sofie@example.com",
            phone="+32470998877",
            language="nl",
        ),
        vehicle=Vehicle.objects.create(dealership=gent, plate=plate, make="Audi", model="A3"),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        external_ref=f"DMS-E2E-{plate}",
        planned_work=[PlannedWork("Kleine onderhoudsbeurt", price=Decimal("189.00"))],
    )


@pytest.fixture
def seeded(live_server):
    Seeder().run()


def link(live_server, appointment: Appointment, name: str = "welcome") -> str:
    return live_server.url + reverse(f"portal:{name}", args=[appointment.checkin.token])


def look(page: Page, name: str) -> None:
    """The page fits the narrow screen (nothing to scroll sideways), passes axe, and is
    kept as a screenshot when asked for."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def assert_pinned_on_the_list(page: Page, live_server, plate: str) -> None:
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    if page.get_by_label("Dealership").input_value() != str(Dealership.objects.get(name=GENT).pk):
        page.get_by_label("Dealership").select_option(label=GENT)
        page.wait_for_load_state("load")
    pinned = page.locator("section.block-pinned").get_by_role("row").filter(has_text=plate)
    expect(pinned).to_be_visible()


def test_a_customer_cancels_from_their_phone_and_reception_sees_it_pinned(
    live_server, seeded, phone: Page, page: Page
):
    appointment = book("1-CAN-360", days_ahead=3)
    phone.goto(link(live_server, appointment))
    look(phone, "welcome")
    phone.get_by_role("link", name=nl("Cancel appointment")).click()
    expect(phone.get_by_role("heading", name=nl("Cancel your appointment?"))).to_be_visible()
    look(phone, "cancel")
    phone.get_by_label(nl("Why are you cancelling? (optional)")).fill("Wagen verkocht")
    phone.get_by_role("button", name=nl("Yes, cancel my appointment")).click()
    expect(phone.get_by_role("heading", name=nl("Your appointment is cancelled"))).to_be_visible()
    expect(phone.locator("main a[href^='tel:+32']")).to_be_visible()
    look(phone, "cancelled")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_reason == "Wagen verkocht"
    assert (
        CheckInItem.objects.get(checkin__appointment=appointment, kind=Kind.CANCELLED).state
        == State.OPEN
    )

    assert_pinned_on_the_list(page, live_server, "1-CAN-360")


def test_too_late_to_cancel_the_phone_offers_a_call(live_server, seeded, phone: Page):
    appointment = book("1-LAT-360", days_ahead=0)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() + timedelta(hours=3),
        ends_at=timezone.now() + timedelta(hours=5),
    )
    phone.goto(link(live_server, appointment, "cancel"))
    expect(phone.get_by_role("heading", name=nl("Please call us to cancel"))).to_be_visible()
    expect(phone.get_by_role("button", name=nl("Yes, cancel my appointment"))).to_have_count(0)
    expect(phone.locator("main a[href^='tel:+32']")).to_be_visible()
    look(phone, "cancel-too-late")


def test_a_collected_customer_rates_two_stars_and_the_appointment_is_pinned(
    live_server, seeded, phone: Page, page: Page
):
    appointment = book("1-RAT-360", days_ahead=1)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() - timedelta(hours=5),
        ends_at=timezone.now() - timedelta(hours=3),
    )
    appointment.refresh_from_db()
    visit.arrive(appointment, user=None, promised_ready_at=timezone.now() + timedelta(hours=1))
    phone.goto(link(live_server, appointment))
    expect(phone.get_by_role("heading", name=nl("We have your car"))).to_be_visible()
    look(phone, "arrived")
    visit.ready(appointment, user=None)
    phone.reload()
    expect(phone.get_by_role("heading", name=nl("Your car is ready"))).to_be_visible()
    look(phone, "ready")
    visit.collect(appointment, user=None)
    phone.reload()

    expect(phone.get_by_role("heading", name=nl("How was your visit?"))).to_be_visible()
    look(phone, "rate")
    phone.get_by_role("button", name=nl("Send my rating")).click()  # no stars yet
    expect(phone.get_by_text(nl("Choose from 1 to 5 stars."))).to_be_visible()
    phone.get_by_label(nl("Tell us more (optional)")).fill("Lang moeten wachten")
    phone.get_by_role("radio", name=nl("2 stars: poor")).check()
    phone.get_by_role("button", name=nl("Send my rating")).click()
    expect(phone.get_by_role("heading", name=re.compile("Sofie"))).to_be_visible()
    look(phone, "rated")
    review = Review.objects.get(appointment=appointment)
    assert (review.stars, review.comment) == (2, "Lang moeten wachten")
    assert (
        CheckInItem.objects.get(checkin__appointment=appointment, kind=Kind.LOW_RATING).state
        == State.OPEN
    )

    assert_pinned_on_the_list(page, live_server, "1-RAT-360")


@pytest.mark.parametrize("javascript", [True, False])
def test_a_customer_asks_for_another_date(
    live_server, seeded, browser: Browser, page: Page, javascript
):
    appointment = book("1-DAT-360", days_ahead=5)
    context = browser.new_context(**NARROW_PHONE, locale="nl-BE", java_script_enabled=javascript)
    phone = context.new_page()
    phone.goto(link(live_server, appointment))
    phone.get_by_role("link", name=nl("Ask for another date")).click()
    expect(phone.get_by_role("heading", name=nl("Another date, please"))).to_be_visible()
    if javascript:
        look(phone, "another-date")
    today = timezone.localdate(timezone=appointment.dealership.tz)
    first, second = today + timedelta(days=8), today + timedelta(days=9)
    phone.get_by_label(nl("First choice")).fill(first.isoformat())
    # A day in the past is refused next to the field; what was entered stays.
    phone.get_by_label(nl("Second choice (optional)")).fill((today - timedelta(days=1)).isoformat())
    phone.get_by_label(nl("Anything else we should know? (optional)")).fill("Liefst vroeg")
    phone.get_by_role("button", name=nl("Ask for another date")).click()
    expect(phone.locator("#id_day_2_error")).to_be_visible()
    expect(phone.get_by_label(nl("Anything else we should know? (optional)"))).to_have_value(
        "Liefst vroeg"
    )
    if javascript:
        look(phone, "another-date-error")
    phone.get_by_label(nl("Second choice (optional)")).fill(second.isoformat())
    phone.get_by_role("group", name=nl("Time of day")).nth(1).get_by_label(
        nl("Afternoon", "part of the day")
    ).check()
    phone.get_by_role("button", name=nl("Ask for another date")).click()

    expect(phone.get_by_role("heading", name=nl("We will get back to you"))).to_be_visible()
    expect(phone.get_by_text(nl("Afternoon", "part of the day"))).to_be_visible()
    if javascript:
        look(phone, "another-date-asked")
    item = CheckInItem.objects.get(checkin__appointment=appointment, kind=Kind.DATE_REQUEST)
    assert item.preferred_days == [
        {"day": first.isoformat(), "part": "morning"},
        {"day": second.isoformat(), "part": "afternoon"},
    ]
    assert item.description == "Liefst vroeg"
    context.close()
    if javascript:
        assert_pinned_on_the_list(page, live_server, "1-DAT-360")
