"""The customer's check-in on a phone, in a real Chromium, against the live server."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext
from PIL import ExifTags, Image
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import PHONE
from tests.conftest import celery_worker_process  # noqa: F401 - fixture: a real Celery worker
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    DealershipFactory,
    OfferFactory,
    WorkItemFactory,
)
from tests.portal import media
from workshop.models import (
    Appointment,
    AppointmentEvent,
    Attachment,
    CheckInItem,
    OfferTranslation,
)

GPS_IFD = ExifTags.IFD.GPSInfo

pytestmark = pytest.mark.django_db(transaction=True)

Kind, State = CheckInItem.Kind, CheckInItem.State


def nl(text: str, context: str = "") -> str:
    """The Dutch customer's words (for `text` in `context`): the catalogue's Dutch."""
    with translation.override("nl"):
        return pgettext(context, text) if context else gettext(text)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def checkin(transactional_db):
    """A Belgian dealership, a Dutch-speaking customer, planned work and three offers."""
    dealership = DealershipFactory(
        name="Autohuis Leiestreek", country="BE", language="nl", brand_colour="#0f5c8c"
    )
    customer = CustomerFactory(
        dealership=dealership,
        first_name="Sofie",
        phone="+32470123456",
        email="sofie@example.com",
        preferred_channel="sms",
        language="nl",
    )
    appointment = AppointmentFactory(dealership=dealership, customer=customer)
    WorkItemFactory(
        appointment=appointment, description="Grote onderhoudsbeurt", price=Decimal("389.00")
    )
    WorkItemFactory(
        appointment=appointment,
        description="Remblokken voor",
        notes="Incl. controle remschijven",
        price=Decimal("245.50"),
    )
    for position, (name, price) in enumerate(
        [("Carwash", "19.95"), ("Interieurreiniging", "49.00"), ("Airco-onderhoud", "89.00")]
    ):
        offer = OfferFactory(
            dealership=dealership,
            name=name,
            price=Decimal(price),
            position=position,
            description="Voor een frisse auto.",
            url="https://example.com/airco" if name == "Airco-onderhoud" else "",
        )
        OfferTranslation.objects.create(offer=offer, language="en", name=f"{name} (en)")
    return appointment.checkin


def link(live_server, checkin, name: str = "welcome") -> str:
    return live_server.url + reverse(f"portal:{name}", args=[checkin.token])


def offer_group(page: Page, name: str):
    return page.get_by_role("group", name=re.compile(name))


def walk_through(
    page: Page, live_server, checkin, javascript: bool = True, photo: str = ""
) -> None:
    """Open the link, change the channel and phone, answer two offers, add a remark (with
    `photo`, a file path, on it), send."""
    page.goto(link(live_server, checkin))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sofie")
    expect(page.get_by_text("Autohuis Leiestreek").first).to_be_visible()
    page.get_by_role("link", name=nl("Start check-in")).click()

    expect(page.get_by_role("heading", name=nl("How we reach you"))).to_be_visible()
    page.get_by_label(nl("E-mail"), exact=True).check()
    page.get_by_label(nl("Mobile phone number")).fill("0478 99 88 77")
    page.get_by_role("button", name=nl("Save and continue")).click()

    expect(page.get_by_role("heading", name=nl("Your appointment"))).to_be_visible()
    expect(page.get_by_text("+32 478 99 88 77")).to_be_visible()
    page.get_by_role("link", name=nl("Next")).click()

    expect(page.get_by_role("heading", name=nl("Planned work"))).to_be_visible()
    expect(page.get_by_text("Grote onderhoudsbeurt")).to_be_visible()
    expect(page.get_by_text("€\xa0634,50")).to_be_visible()
    page.get_by_role("link", name=nl("Next")).click()

    expect(page.get_by_role("heading", name=nl("Extra services"))).to_be_visible()
    offer_group(page, "Carwash").get_by_label(nl("Yes, add it")).check()
    offer_group(page, "Airco-onderhoud").get_by_label(nl("Tell me more first")).check()
    if javascript:  # saved at once, the card says so
        expect(
            offer_group(page, "Airco-onderhoud").get_by_text(
                nl("Not sent yet", "extra service answer")
            )
        ).to_be_visible()
        expect(offer_group(page, "Carwash").get_by_label(nl("Yes, add it"))).to_be_checked()
    page.get_by_role("button", name=nl("Save and continue")).click()

    expect(page.get_by_role("heading", name=nl("Anything we should know?"))).to_be_visible()
    page.get_by_label(nl("Subject")).fill("Piepende remmen")
    page.get_by_label(nl("Tell us more")).fill("Vooral 's ochtends, bij het afremmen.")
    page.get_by_role("button", name=nl("Add remark")).click()
    remark = page.get_by_role("article", name="Piepende remmen")
    expect(remark).to_be_visible()
    expect(remark.get_by_text(nl("Not sent yet", "remark"))).to_be_visible()
    if photo:
        remark.get_by_label(nl("Add photos or videos")).set_input_files(photo)
        expect(remark.get_by_role("listitem").filter(has_text="IMG_2041.jpg")).to_contain_text(
            nl("Ready", "photo or video state"), timeout=30_000
        )
    page.get_by_role("link", name=nl("Next"), exact=True).click()

    expect(page.get_by_role("heading", name=nl("Check and send"))).to_be_visible()
    expect(page.get_by_text("€\xa0654,45")).to_be_visible()  # 634.50 planned + 19.95 car wash
    page.get_by_role("button", name=nl("Send check-in")).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Sofie")
    expect(page.get_by_role("heading", name=nl("What you sent"))).to_be_visible()
    for sent in ("Carwash", "Airco-onderhoud", "Piepende remmen"):
        expect(page.get_by_text(sent, exact=True).first).to_be_visible()


def assert_sent(checkin) -> None:
    customer = checkin.appointment.customer
    customer.refresh_from_db()
    assert customer.preferred_channel == "email"
    assert str(customer.phone) == "+32478998877"
    assert set(CheckInItem.objects.open().values_list("kind", "offer__name", "subject")) == {
        (Kind.OFFER_ACCEPTED, "Carwash", ""),
        (Kind.OFFER_CONTACT, "Airco-onderhoud", ""),
        (Kind.REMARK, None, "Piepende remmen"),
    }
    assert checkin.appointment.is_pinned
    assert AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CONTACT_CHANGED).count() == 2


@pytest.mark.usefixtures("celery_worker_process")  # checks the photo, as in production
def test_a_dutch_customer_checks_in_on_a_phone_and_changes_an_answer_later(
    live_server, phone_page: Page, checkin, tmp_path
):
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(media.jpeg_with_gps())
    walk_through(phone_page, live_server, checkin, photo=str(photo))
    assert_sent(checkin)
    [attachment] = Attachment.objects.filter(item__subject="Piepende remmen")
    assert attachment.state == Attachment.State.READY
    with attachment.file.open("rb") as stored:
        exif = Image.open(stored).getexif()
    assert not exif.get_ifd(GPS_IFD)  # no location
    assert not exif  # nor make, model or anything else
    assert phone_page.evaluate("document.documentElement.lang") == "nl"

    # Later, from the same link: no car wash after all.
    phone_page.goto(link(live_server, checkin))
    sent_notice = nl(
        "You sent your check-in (%(when)s). You can change your answers until your appointment starts."
    )
    expect(phone_page.get_by_text(re.compile(re.escape(sent_notice[:20])))).to_be_visible()
    phone_page.get_by_role("link", name=nl("See or change my answers")).click()
    phone_page.get_by_role("link", name=nl("Change extra services")).click()
    offer_group(phone_page, "Carwash").get_by_label(nl("No, thank you")).check()
    phone_page.get_by_role("button", name=nl("Save and continue")).click()
    expect(phone_page.get_by_text(nl("You have changes that are not sent yet."))).to_be_visible()
    phone_page.get_by_role("link", name=nl("Check and send")).click()
    expect(phone_page.get_by_text(nl("No longer wanted"))).to_be_visible()
    phone_page.get_by_role("button", name=nl("Send changes")).click()
    expect(phone_page.get_by_role("heading", name=nl("What you sent"))).to_be_visible()

    assert set(CheckInItem.objects.open().values_list("kind", "offer__name", "subject")) == {
        (Kind.OFFER_CONTACT, "Airco-onderhoud", ""),
        (Kind.REMARK, None, "Piepende remmen"),
    }
    assert CheckInItem.objects.filter(state=State.WITHDRAWN, offer__name="Carwash").exists()


def test_the_whole_check_in_works_without_javascript(live_server, browser: Browser, checkin):
    context = browser.new_context(**PHONE, locale="nl-BE", java_script_enabled=False)
    page = context.new_page()
    try:
        walk_through(page, live_server, checkin, javascript=False)
    finally:
        context.close()
    assert_sent(checkin)
    assert opened_events() == 1  # without JavaScript, by the second page it asked for


def opened_events() -> int:
    return AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CHECKIN_OPENED).count()


def test_a_person_opening_the_link_is_recorded_once(live_server, phone_page: Page, checkin):
    """A link scanner's fetch records nothing (tests/portal/test_opened.py); a browser
    that shows the page says so once."""
    with phone_page.expect_response(lambda response: response.url.endswith("/seen/")) as seen:
        phone_page.goto(live_server.url + reverse("portal:link", args=[checkin.token]))
    assert seen.value.status == 204
    checkin.refresh_from_db()
    assert checkin.opened_at is not None
    assert opened_events() == 1

    phone_page.get_by_role("link", name=nl("Start check-in")).click()
    expect(phone_page.get_by_role("heading", name=nl("How we reach you"))).to_be_visible()
    phone_page.reload()
    expect(phone_page.get_by_role("heading", name=nl("How we reach you"))).to_be_visible()
    assert phone_page.evaluate("document.body.dataset.seenUrl") is None
    assert opened_events() == 1


def test_the_language_switch_works_and_sticks(live_server, phone_page: Page, checkin):
    phone_page.goto(link(live_server, checkin, "services"))
    phone_page.locator("details.language summary").click()
    phone_page.get_by_role("button", name="English").click()
    expect(phone_page.get_by_text("Carwash (en)")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.lang") == "en"
    phone_page.goto(link(live_server, checkin, "review"))
    assert phone_page.evaluate("document.documentElement.lang") == "en"


def test_an_invalid_phone_number_is_explained_and_nothing_typed_is_lost(
    live_server, phone_page: Page, checkin
):
    phone_page.goto(link(live_server, checkin, "contact"))
    phone_page.get_by_label(nl("E-mail"), exact=True).check()
    phone_page.get_by_label(nl("E-mail address")).fill("sofie.nieuw@example.com")
    phone_page.get_by_label(nl("Mobile phone number")).fill("12345")
    phone_page.get_by_role("button", name=nl("Save and continue")).click()
    phone_field = phone_page.get_by_label(nl("Mobile phone number"))
    expect(phone_field).to_have_attribute("aria-invalid", "true")
    expect(phone_page.locator("#id_phone_error")).to_be_visible()
    expect(phone_field).to_have_value("12345")
    expect(phone_page.get_by_label(nl("E-mail address"))).to_have_value("sofie.nieuw@example.com")
    expect(phone_page.get_by_label(nl("E-mail"), exact=True)).to_be_checked()
    customer = checkin.appointment.customer
    customer.refresh_from_db()
    assert customer.email == "sofie@example.com"


def test_a_wrong_link_gets_a_friendly_page(live_server, phone_page: Page, checkin):
    wrong = checkin.link_selector + "x" * 18
    response = phone_page.goto(f"{live_server.url}/c/{wrong}/")
    assert response.status == 404
    expect(phone_page.get_by_role("heading", name=nl("This link is not valid"))).to_be_visible()
    assert response.headers["x-robots-tag"] == "noindex"


def test_a_link_after_the_appointment_started_shows_the_closed_page(
    live_server, phone_page: Page, checkin
):
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=timezone.now() - timedelta(minutes=5)
    )
    response = phone_page.goto(link(live_server, checkin))
    assert response.status == 410
    expect(phone_page.get_by_role("heading", name=nl("This check-in has closed"))).to_be_visible()
    expect(
        phone_page.get_by_role("link", name=re.compile(r"\+32 9 210 10 10")).first
    ).to_have_attribute("href", "tel:+3292101010")


# --- accessibility and layout ----------------------------------------------------------------

PAGES = ["welcome", "contact", "details", "work", "services", "remarks", "review"]


def every_page(page: Page, live_server, checkin):
    """Yields after each page is shown: every step, a form with errors, done, closed, invalid."""
    for name in PAGES:
        page.goto(link(live_server, checkin, name))
        yield name
    page.goto(link(live_server, checkin, "contact"))
    page.get_by_label(nl("Mobile phone number")).fill("12")
    page.get_by_role("button", name=nl("Save and continue")).click()
    expect(page.locator("#id_phone_error")).to_be_visible()
    yield "contact with an error"
    page.goto(link(live_server, checkin, "remarks"))
    page.get_by_label(nl("Subject")).fill("Kras op de bumper")
    page.get_by_role("button", name=nl("Add remark")).click()
    expect(page.get_by_role("article")).to_be_visible()
    yield "remarks with a remark"
    page.goto(link(live_server, checkin, "review"))
    page.get_by_role("button", name=nl("Send check-in")).click()
    expect(page.get_by_role("heading", name=nl("What you sent"))).to_be_visible()
    yield "done"
    page.goto(f"{live_server.url}/c/{'x' * 26}/")
    yield "invalid"
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=timezone.now() - timedelta(minutes=5)
    )
    page.goto(link(live_server, checkin))
    yield "closed"


def test_every_page_passes_an_axe_scan(live_server, phone_page: Page, checkin):
    axe = Axe()
    for name in every_page(phone_page, live_server, checkin):
        results = axe.run(phone_page)
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"


def test_every_page_fits_a_320px_screen_without_sideways_scrolling(
    live_server, browser: Browser, checkin
):
    context = browser.new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}})
    page = context.new_page()
    try:
        for name in every_page(page, live_server, checkin):
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{name} is {width}px wide"
    finally:
        context.close()


def test_tap_targets_are_at_least_44px(live_server, phone_page: Page, checkin):
    too_small = []
    for name in every_page(phone_page, live_server, checkin):
        too_small += [
            f"{name}: {target}"
            for target in phone_page.evaluate(
                """() => [...document.querySelectorAll('main a.button, main button, main label.choice, summary, input[type=text], input[type=tel], input[type=email]')]
                  .filter(e => e.offsetParent !== null)
                  .filter(e => e.getBoundingClientRect().height < 44)
                  .map(e => e.outerHTML.slice(0, 80))"""
            )
        ]
    assert too_small == []
