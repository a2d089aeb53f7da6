"""Browser tests of the staff UI on the demo data: reception, mechanics, the live list."""

import io
import re
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from e2e.conftest import PHONE, log_in
from notifications.models import Message
from tests.workshop.staffdata import photo
from workshop import checkin as flow
from workshop.booking import PlannedWork, book_appointment
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Appointment, Customer, Dealership, Offer, Vehicle

pytestmark = pytest.mark.django_db(transaction=True)

GENT = "Autohuis Leiestreek Gent"
ANSWERED_BLUE = "rgb(29, 78, 216)"


def book_today(dealership: Dealership, plate: str, first: str, last: str, at=time(12, 15)):
    """One more appointment today in a seeded dealership, booked the way the DMS books."""
    day = timezone.localdate(timezone=dealership.tz)
    starts_at = datetime.combine(day, at, tzinfo=dealership.tz)
    return book_appointment(
        dealership=dealership,
        customer=Customer.objects.create(
            dealership=dealership,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@example.com",
            phone="+32470998877",
            language="nl",
        ),
        vehicle=Vehicle.objects.create(dealership=dealership, plate=plate, make="Audi", model="A3"),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        external_ref=f"DMS-E2E-{plate}",
        planned_work=[PlannedWork("Kleine onderhoudsbeurt", price=Decimal("189.00"))],
    )


def customer_answers(appointment: Appointment) -> None:
    """What the portal does when the customer sends the check-in (built on another branch)."""
    checkin = appointment.checkin
    offers = Offer.objects.filter(dealership=appointment.dealership)
    flow.record_opened(checkin)
    flow.set_offer_choice(checkin, offers.get(name="Carwash"), flow.OfferChoice.ACCEPT)
    flow.set_offer_choice(checkin, offers.get(name="Vervangwagen"), flow.OfferChoice.CONTACT)
    squeak = checkin.items.create(
        kind="remark",
        subject="Piepende remmen",
        description="Bij het afremmen hoor ik een hoge pieptoon.",
    )
    photo(squeak, label="brakes")
    scratch = checkin.items.create(
        kind="remark", subject="Kras op achterbumper", description="Zie foto."
    )
    photo(scratch, label="scratch")
    flow.submit_checkin(checkin)


@pytest.fixture
def gent_visit(live_server):
    Seeder().run()
    gent = Dealership.objects.get(name=GENT)
    appointment = book_today(gent, "1-PIT-123", "Sofie", "Claes")
    customer_answers(appointment)
    return appointment


def switch_to_gent(page: Page) -> None:
    if page.get_by_label("Dealership").input_value() != str(Dealership.objects.get(name=GENT).pk):
        page.get_by_label("Dealership").select_option(label=GENT)
        page.wait_for_load_state("load")
    expect(page.get_by_label("Dealership")).to_have_value(str(Dealership.objects.get(name=GENT).pk))


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def item_card(page: Page, title: str):
    return page.locator("article.item").filter(
        has=page.get_by_role("heading", name=re.compile(title))
    )


def test_reception_handles_everything_the_customer_sent(live_server, page: Page, gent_visit):
    appointment = gent_visit
    plate = appointment.vehicle.plate
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    switch_to_gent(page)

    pinned = page.locator("section.block-pinned")
    row = pinned.get_by_role("row").filter(has_text=plate)
    expect(row.get_by_role("img", name="New customer input")).to_be_visible()
    name = row.get_by_role("link", name="Sofie Claes")
    expect(name).to_have_css("color", ANSWERED_BLUE)
    assert_accessible(page)
    name.click()

    expect(page.get_by_role("heading", name="Sofie Claes", level=1)).to_be_visible()
    checkin = page.locator("#checkin")
    expect(checkin.get_by_text("4 open")).to_be_visible()

    # The remark becomes a work item: the dialog is prefilled, the price is ours.
    page.get_by_role("link", name="Convert to work item: Piepende remmen").click()
    dialog = page.get_by_role("dialog", name="Convert to work item")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Description")).to_have_value(
        "Piepende remmen: Bij het afremmen hoor ik een hoge pieptoon."
    )
    assert_accessible(page)
    dialog.get_by_label("Price incl. VAT").fill("85,00")
    dialog.get_by_role("button", name="Add work item").click()
    expect(dialog).to_be_hidden()
    work = page.locator("#work")
    expect(work.get_by_role("row").filter(has_text="Piepende remmen")).to_contain_text("85,00")
    expect(item_card(page, "Piepende remmen")).to_contain_text("Handled")

    # The accepted offer converts at its price and leaves the check-in section.
    page.get_by_role("button", name="Add as work item: Carwash").click()
    expect(work.get_by_role("row").filter(has_text="Carwash")).to_contain_text("19,95")
    expect(checkin.get_by_role("heading", name=re.compile("Carwash"))).to_have_count(0)

    # The contact request: handled after a call, with a note.
    page.get_by_role("link", name="Mark handled: Vervangwagen").click()
    dialog = page.get_by_role("dialog", name="Mark handled")
    dialog.get_by_label("Note (optional)").fill("Gebeld: vervangwagen gereserveerd")
    dialog.get_by_role("button", name="Mark handled").click()
    expect(dialog).to_be_hidden()
    expect(item_card(page, "Vervangwagen")).to_contain_text("Gebeld: vervangwagen gereserveerd")

    # Share the remark with the mechanics: one switch.
    page.get_by_role("link", name="Share: Piepende remmen").click()
    dialog = page.get_by_role("dialog", name="Share with mechanics")
    dialog.get_by_role("switch", name="Visible to mechanics").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(item_card(page, "Piepende remmen")).to_contain_text("Visible to mechanics")

    # The last remark: the dialog's cancel handles it without work.
    page.get_by_role("link", name="Convert to work item: Kras op achterbumper").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(checkin.get_by_text(re.compile(r"\d+ open"))).to_have_count(0)
    expect(work.get_by_role("row").filter(has_text="Kras")).to_have_count(0)

    timeline = page.locator(".timeline")
    expect(timeline.get_by_text("Converted a check-in item to a work item")).to_have_count(2)
    expect(timeline.get_by_text("Handled a check-in item")).to_have_count(2)
    expect(timeline.get_by_text("Changed what mechanics see")).to_have_count(1)
    expect(timeline).to_contain_text("Gebeld: vervangwagen gereserveerd")
    expect(timeline).to_contain_text("Rita Receptie")

    # Unpinned: back on the list it stands on its own day, with the done icon.
    page.get_by_role("link", name=re.compile("Appointments on")).click()
    expect(page.locator("section.block-pinned").get_by_text(plate)).to_have_count(0)
    day_row = page.get_by_role("row").filter(has_text=plate)
    expect(day_row.get_by_role("img", name="Every item handled")).to_be_visible()


def test_dialogs_work_from_the_keyboard_and_return_focus(live_server, page: Page, gent_visit):
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/staff/appointments/{gent_visit.pk}/")
    share = page.get_by_role("link", name="Share: Piepende remmen")
    share.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Share with mechanics")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("switch")).to_be_focused()
    for _ in range(6):  # focus stays in the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(share).to_be_focused()


def test_without_javascript_a_dialog_is_a_page(live_server, browser, gent_visit):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/staff/appointments/{gent_visit.pk}/")
    page.get_by_role("link", name="Mark handled: Vervangwagen").click()
    expect(page.get_by_role("heading", name="Mark handled", level=1)).to_be_visible()
    page.get_by_label("Note (optional)").fill("Called")
    page.get_by_role("button", name="Mark handled").click()
    expect(page.get_by_role("heading", name="Sofie Claes", level=1)).to_be_visible()
    expect(item_card(page, "Vervangwagen")).to_contain_text("Called")
    context.close()


def test_mechanics_see_the_shared_remark_and_print_the_job_card(
    live_server, page: Page, gent_visit
):
    appointment = gent_visit
    from django.contrib.auth import get_user_model

    rita = get_user_model().objects.get(username="reception")
    squeak = appointment.checkin.items.get(subject="Piepende remmen")
    flow.share_item(squeak, rita, visible=True)
    flow.convert_offer(appointment.checkin.items.get(offer_name="Carwash"), rita)

    log_in(page, live_server.url, "mechanic", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("Workshop"), level=1)).to_be_visible()
    switch_to_gent(page)  # the demo mechanic works in both dealerships, like reception
    job = page.locator(f"#job-{appointment.pk}")
    expect(job.get_by_text("Piepende remmen")).to_be_visible()
    picture = job.get_by_role("img", name="Photo 1: Piepende remmen")
    expect(picture).to_be_visible()
    # The file really arrives: wait for the browser to have decoded it, whatever the load.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    expect(page.get_by_text("Kras op achterbumper")).to_have_count(0)
    expect(page.get_by_text("+32 470 99 88 77")).to_have_count(0)
    expect(page.get_by_text("sofie@example.com")).to_have_count(0)
    expect(job).not_to_contain_text("€")
    assert_accessible(page)

    with page.expect_download() as download_info:
        job.get_by_role("link", name=re.compile("Job card")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read())).pages)
    for expected in ("Kleine onderhoudsbeurt", "Carwash", "Piepende remmen", "1-PIT-123"):
        assert expected in text
    assert "€" not in text
    assert "189" not in text


def test_a_customers_answer_appears_pinned_without_a_reload(
    live_server, page: Page, browser: Browser
):
    Seeder().run()
    gent = Dealership.objects.get(name=GENT)
    appointment = book_today(gent, "2-NEW-456", "Lotte", "Peeters")
    # Tomorrow, whatever the hour the test runs at: pinned answers show whatever the day.
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, hours=2),
    )
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    switch_to_gent(page)
    expect(page.locator("section.block-pinned").get_by_text("2-NEW-456")).to_have_count(0)
    page.evaluate("window.stillTheSamePage = true")
    # A quiet poll first: with a shared cache, the ones after it answer from the cache
    # until the customer's answer gives the dealership's list a new version.
    with page.expect_response(lambda r: "known=" in r.url and r.status == 204, timeout=15_000):
        pass

    # Meanwhile, on the customer's phone: a remark, then send.
    phone = browser.new_context(**PHONE, locale="nl-BE").new_page()
    link = live_server.url + reverse("portal:remarks", args=[appointment.checkin.token])
    phone.goto(link)
    with translation.override("nl"):
        phone.get_by_label(gettext("Subject")).fill("Lampje motorstoring")
        phone.get_by_role("button", name=gettext("Add remark")).click()
        phone.get_by_role("link", name=gettext("Next"), exact=True).click()
        phone.get_by_role("button", name=gettext("Send check-in")).click()
        expect(phone.get_by_role("heading", name=gettext("What you sent"))).to_be_visible()
    phone.context.close()

    pinned_row = (
        page.locator("section.block-pinned").get_by_role("row").filter(has_text="2-NEW-456")
    )
    expect(pinned_row).to_be_visible(timeout=15_000)
    expect(pinned_row.get_by_role("img", name="New customer input")).to_be_visible()
    expect(pinned_row.get_by_role("link", name="Lotte Peeters")).to_have_css("color", ANSWERED_BLUE)
    assert page.evaluate("window.stillTheSamePage") is True


def test_reception_resends_an_invitation_once(live_server, page: Page):
    Seeder().run()
    gent = Dealership.objects.get(name=GENT)
    appointment = book_today(gent, "1-RES-789", "Bram", "Visser")
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() + timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=2, hours=2),
    )
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    switch_to_gent(page)
    page.goto(live_server.url + reverse("workshop:appointment", args=[appointment.pk]))

    page.get_by_role("link", name="Resend invitation").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("gets the check-in link again")
    dialog.get_by_role("button", name="Resend invitation").click()
    expect(dialog).to_be_hidden()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Resent the invitation")
    expect(timeline).to_contain_text("Invitation by SMS")

    # A second try within ten minutes is refused, in the dialog.
    page.get_by_role("link", name="Resend invitation").click()
    dialog.get_by_role("button", name="Resend invitation").click()
    expect(dialog.get_by_role("alert")).to_contain_text("less than 10 minutes ago")
    assert Message.objects.filter(appointment=appointment, purpose="invitation").count() == 1
