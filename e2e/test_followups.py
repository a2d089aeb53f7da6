"""Follow-up calls in a browser: a customer asks about a service on the check-in page,
the follow-up appears on To-call, three unanswered calls on three working days send one
"we tried to reach you" message and close it as not reachable; a call-back at an agreed
time shows as due at that time.

Time travels with time_machine, which moves the clock of the whole test process, the
live server's thread included; the staff session lasts a working day, so each day the
receptionist logs in again, as at the desk.
"""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from followups.models import FollowUp, Reason
from notifications.models import Message
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    DealershipFactory,
    MembershipFactory,
    OfferFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

BRUSSELS = ZoneInfo("Europe/Brussels")
PASSWORD = "secret-password-1"  # tests.factories.UserFactory's


def nl(text: str) -> str:
    with translation.override("nl"):
        return gettext(text)


def brussels(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 6, day, hour, minute, tzinfo=BRUSSELS)  # Monday 7 June 2027


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def traveller():
    with time_machine.travel(brussels(7, 9), tick=True) as traveller:
        yield traveller


@pytest.fixture
def visit(transactional_db, traveller):
    dealership = DealershipFactory(name="Autohuis Leiestreek", country="BE", language="nl")
    customer = CustomerFactory(
        dealership=dealership, first_name="Sofie", last_name="Claes", language="nl"
    )
    appointment = AppointmentFactory(
        dealership=dealership,
        customer=customer,
        starts_at=brussels(21, 9),
        ends_at=brussels(21, 11),
    )
    OfferFactory(dealership=dealership, name="Airco-onderhoud", price=Decimal("89.00"))
    user = MembershipFactory(dealership=dealership).user
    return appointment, user


def at_the_desk(page: Page, live_server, user, traveller, moment: datetime) -> None:
    traveller.move_to(moment)
    page.context.clear_cookies()
    log_in(page, live_server.url, user.username, PASSWORD)
    page.goto(live_server.url + reverse("followups:calls"))


def log_call(page: Page, outcome: str, note: str = "", call_back_at: str = "") -> None:
    row = page.locator("tr.call-row").filter(has_text="Sofie Claes").first
    row.get_by_role("link", name="Call").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator('a[href="tel:+32470123456"]')).to_be_visible()
    dialog.get_by_label(outcome, exact=True).check()
    if note:
        dialog.get_by_label("Note").fill(note)
    if call_back_at:
        dialog.get_by_label("Call back at", exact=True).fill(call_back_at)
    dialog.get_by_role("button", name="Log the call").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_three_unanswered_calls_then_not_reachable_and_a_call_back_at_its_time(
    live_server, page: Page, phone_page: Page, visit, traveller
):
    appointment, user = visit
    token = appointment.checkin.token

    # The customer asks to be told more about a service, and sends the check-in.
    phone_page.goto(live_server.url + reverse("portal:services", args=[token]))
    phone_page.get_by_role("group", name=re.compile("Airco-onderhoud")).get_by_label(
        nl("Tell me more first")
    ).check()
    phone_page.get_by_role("button", name=nl("Save and continue")).click()
    phone_page.goto(live_server.url + reverse("portal:review", args=[token]))
    phone_page.get_by_role("button", name=nl("Send check-in")).click()
    expect(phone_page.get_by_role("heading", name=nl("What you sent"))).to_be_visible()

    # Monday: it is on To-call by itself, due now.
    at_the_desk(page, live_server, user, traveller, brussels(7, 10))
    row = page.locator("tr.call-row").filter(has_text="Sofie Claes")
    expect(row).to_contain_text("Airco-onderhoud")
    expect(row).to_have_class(re.compile("is-due"))
    expect(page.locator("#nav-calls")).to_contain_text("1")
    log_call(page, "No answer", "Ging over, niemand nam op")
    expect(row).not_to_have_class(re.compile("is-due"))  # next: Tuesday
    expect(row).to_contain_text("1")

    # Tuesday and Wednesday: no answer again; the third closes it.
    at_the_desk(page, live_server, user, traveller, brussels(8, 10, 5))
    expect(row).to_have_class(re.compile("is-due"))
    log_call(page, "Voicemail left")
    at_the_desk(page, live_server, user, traveller, brussels(9, 10, 10))
    expect(row).to_have_class(re.compile("is-due"))
    log_call(page, "No answer")
    expect(page.locator("tr.call-row").filter(has_text="Sofie Claes")).to_have_count(0)

    follow_up = FollowUp.objects.get(reason=Reason.OFFER_CONTACT)
    assert (follow_up.status, follow_up.outcome) == ("closed", "not_reachable")
    [tried] = Message.objects.filter(purpose=Message.Purpose.FOLLOWUP_TRIED)
    assert tried.channel == "sms"
    assert appointment.checkin.link in tried.body
    assert tried.queued_at == follow_up.attempts.get(number=1).at  # after the first call

    page.goto(live_server.url + reverse("workshop:appointment", args=[appointment.pk]))
    follow_ups = page.locator("#follow-ups")
    expect(follow_ups).to_contain_text("Not reachable")
    expect(page.locator(".timeline")).to_contain_text("Call attempt")

    # A call by hand, then a call-back the customer agreed to at 14:30.
    follow_ups.get_by_role("link", name="Add to the To-call list").click()
    page.get_by_label("About").fill("Band lek")
    page.get_by_role("button", name="Add").click()
    page.goto(live_server.url + reverse("followups:calls"))
    log_call(page, "Call back at an agreed time", "Na de lunch", "2027-06-09T14:30")
    row = page.locator("tr.call-row").filter(has_text="Sofie Claes")
    expect(row).to_contain_text("agreed time")
    expect(row).not_to_have_class(re.compile("is-due"))

    traveller.move_to(brussels(9, 14, 30))
    page.reload()
    expect(row).to_have_class(re.compile("is-due"))
    expect(row).to_contain_text("14:30")
