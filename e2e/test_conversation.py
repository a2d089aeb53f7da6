"""Browser tests of the conversation: a one-word SMS reply on the live list, and a
message with a photo from the check-in page answered by SMS from the appointment page."""

from datetime import timedelta

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import PHONE, log_in
from e2e.test_staff_flows import GENT, book_today, switch_to_gent
from notifications.models import Message
from notifications.transports import twilio_signature
from tests.portal.media import jpeg_with_gps
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Appointment, Dealership

pytestmark = pytest.mark.django_db(transaction=True)

AUTH_TOKEN = "e2e-twilio-token"
# The list asks every few seconds whether anything changed; this is ample for one poll.
POLL_TIMEOUT_MS = 20_000


@pytest.fixture
def eager_tasks():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def gent_booking(live_server, settings):
    settings.SITE_URL = live_server.url
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    Seeder().run()
    gent = Dealership.objects.get(name=GENT)
    # Two hours ahead: the appointment has not started, so a "Ja" still counts.
    soon = timezone.localtime(timezone.now() + timedelta(hours=2), gent.tz)
    appointment = book_today(gent, "1-TLK-001", "Sofie", "Claes", at=soon.time())
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=soon, ends_at=soon + timedelta(hours=1)
    )
    return Appointment.objects.get(pk=appointment.pk)


def open_list(page: Page, base_url: str, appointment: Appointment) -> None:
    """The receptionist's list of the appointment's day (today, but for a test run
    late in the evening)."""
    log_in(page, base_url, "reception", DEMO_PASSWORD)
    switch_to_gent(page)
    day = timezone.localtime(appointment.starts_at, appointment.dealership.tz).date()
    page.goto(f"{base_url}{reverse('workshop:appointments')}?day={day.isoformat()}")


def nl(text: str) -> str:
    with translation.override("nl"):
        return gettext(text)


def text_from_customer(base_url: str, body: str, sender: str, sid: str) -> requests.Response:
    """What Twilio posts when the customer texts us: signed with our auth token."""
    path = reverse("notifications:twilio_inbound")
    data = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 30,
        "From": sender,
        "To": "+3225550100",
        "Body": body,
        "NumMedia": "0",
    }
    signature = twilio_signature(AUTH_TOKEN, base_url + path, data)
    return requests.post(
        base_url + path, data=data, headers={"X-Twilio-Signature": signature}, timeout=10
    )


def test_a_ja_by_sms_shows_confirmed_on_the_open_list_without_a_reload(
    live_server, page: Page, gent_booking
):
    open_list(page, live_server.url, gent_booking)
    row = page.get_by_role("row").filter(has_text="1-TLK-001")
    expect(row).to_be_visible()
    expect(row.get_by_text("Confirmed")).to_have_count(0)
    page.evaluate("window.notReloaded = true")

    response = text_from_customer(live_server.url, "Ja prima!", "+32470998877", "SM" + "7" * 32)

    assert response.status_code == 200
    expect(row.get_by_text("Confirmed")).to_be_visible(timeout=POLL_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True  # the list changed in place
    appointment = Appointment.objects.get(pk=gent_booking.pk)
    assert appointment.confirmation == "confirmed"
    page.get_by_role("link", name="Confirmed", exact=True).click()
    expect(page.get_by_role("row").filter(has_text="1-TLK-001")).to_be_visible()


def test_a_written_question_pins_with_a_message_icon_and_the_nav_counts_it(
    live_server, page: Page, gent_booking
):
    open_list(page, live_server.url, gent_booking)
    page.evaluate("window.notReloaded = true")

    text_from_customer(live_server.url, "Kan ik om 9u komen?", "+32470998877", "SM" + "8" * 32)

    pinned = page.locator("section.block-pinned")
    row = pinned.get_by_role("row").filter(has_text="1-TLK-001")
    expect(row.get_by_role("img", name="Unread message from the customer")).to_be_visible(
        timeout=POLL_TIMEOUT_MS
    )
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_text("1 conversation waits for an answer")).to_be_attached()
    assert page.evaluate("window.notReloaded") is True


def test_the_customer_writes_with_a_photo_and_reception_answers_by_sms(
    live_server, page: Page, browser: Browser, gent_booking, settings, eager_tasks, tmp_path
):
    settings.DEMO_MODE = True
    settings.MEDIA_ROOT = tmp_path / "media"
    photo = tmp_path / "lampje.jpg"
    photo.write_bytes(jpeg_with_gps())

    # The customer, on their phone.
    context = browser.new_context(**PHONE, locale="nl-BE")
    phone = context.new_page()
    phone.goto(f"{live_server.url}/c/{gent_booking.checkin.token}/messages/")
    phone.get_by_label(nl("Your message")).fill("Dit lampje brandt sinds gisteren.")
    phone.get_by_label(nl("Photo (optional)")).set_input_files(str(photo))
    phone.get_by_role("button", name=nl("Send message")).click()
    expect(phone.get_by_text("Dit lampje brandt sinds gisteren.")).to_be_visible()

    # Reception, at the desk.
    log_in(page, live_server.url, "reception", DEMO_PASSWORD)
    switch_to_gent(page)
    page.goto(f"{live_server.url}{reverse('workshop:appointment', args=[gent_booking.pk])}")
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text("Dit lampje brandt sinds gisteren.")
    expect(conversation.get_by_text("unread", exact=True)).to_be_visible()
    # The photo, checked, on a remark staff can convert or share as any other.
    pictures = page.locator("article.item").filter(has_text=nl("Pictures sent with a message"))
    expect(pictures.locator("ul.media li")).to_have_count(1)
    expect(page.get_by_label("SMS")).to_be_checked()  # the page is not a channel we send by
    page.get_by_label("Your answer").fill("Dank u, we kijken ernaar bij uw bezoek.")
    expect(page.locator("#reply-segments")).to_contain_text("1 SMS")
    assert Axe().run(page).violations_count == 0
    page.get_by_role("button", name="Send", exact=True).click()
    expect(conversation).to_contain_text("Dank u, we kijken ernaar bij uw bezoek.")
    expect(conversation.get_by_text("unread", exact=True)).to_have_count(0)

    reply = Message.objects.get(direction="out", purpose="reply")
    assert (reply.channel, reply.status) == ("sms", "sent")
    page.goto(f"{live_server.url}/notifications/outbox/")
    card = page.get_by_role("article").filter(has_text="Dank u, we kijken ernaar")
    expect(card).to_contain_text("+32470998877")

    # And the customer reads it on the check-in page.
    phone.reload()
    expect(phone.get_by_text("Dank u, we kijken ernaar bij uw bezoek.")).to_be_visible()
    context.close()
