"""Browser tests: mechanics move between days and open one appointment; search counts."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from tests.factories import AppointmentFactory, MembershipFactory, UserFactory, WorkItemFactory
from tests.workshop.staffdata import answered, appointment_today, open_remark, photo
from workshop import checkin as flow
from workshop.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "secret-password-1"


@pytest.fixture
def dealership(transactional_db):
    from tests.factories import DealershipFactory

    return DealershipFactory(name="Garage Noord")


def test_a_mechanic_goes_to_tomorrow_and_opens_an_appointments_workshop_view(
    live_server, page: Page, dealership, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    MembershipFactory(dealership=dealership, role=Role.MECHANIC, user=UserFactory(username="marc"))
    today = appointment_today(dealership, vehicle__plate="1-TOD-001")
    tomorrow = AppointmentFactory(
        dealership=dealership,
        starts_at=today.starts_at + timedelta(days=1),
        vehicle__plate="1-TOM-002",
        customer__phone="+32470112233",
    )
    WorkItemFactory(appointment=tomorrow, description="Replace brake pads", price="245.50")
    remark = open_remark(tomorrow, subject="Squeaky brakes")
    flow.share_item(remark, UserFactory(), visible=True)
    photo(remark)

    log_in(page, live_server.url, "marc", PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("Workshop"), level=1)).to_be_visible()
    expect(page.get_by_text("1-TOD-001")).to_be_visible()
    page.get_by_role("link", name="Next day").click()
    expect(page.get_by_text("1-TOD-001")).to_have_count(0)
    page.get_by_role("link", name=re.compile("^1-TOM-002 ")).click()

    job = page.locator(f"#job-{tomorrow.pk}")
    expect(job.get_by_text("Replace brake pads")).to_be_visible()
    expect(job.get_by_text("Squeaky brakes")).to_be_visible()
    picture = job.get_by_role("img", name="Photo 1: Squeaky brakes")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("main")).not_to_contain_text("€")
    expect(page.locator("main")).not_to_contain_text("245")
    expect(page.locator("main")).not_to_contain_text("470 11 22 33")
    page.get_by_role("link", name=re.compile("Workshop on")).click()
    expect(page.get_by_text("1-TOM-002")).to_be_visible()

    # A receptionist's link to the appointment page opens the workshop's view, not a 404.
    page.goto(live_server.url + reverse("workshop:appointment", args=[tomorrow.pk]))
    expect(page.locator(f"#job-{tomorrow.pk}")).to_be_visible()


def test_a_pinned_search_match_and_the_result_count_agree(live_server, page: Page, dealership):
    MembershipFactory(dealership=dealership, user=UserFactory(username="rita"))
    later = AppointmentFactory(
        dealership=dealership,
        starts_at=timezone.now() + timedelta(days=5),
        vehicle__plate="1-PIN-777",
    )
    answered(later)
    appointment_today(dealership, vehicle__plate="1-DAY-001")

    log_in(page, live_server.url, "rita", PASSWORD)
    page.get_by_label("Search by plate, customer or reference").fill("1pin777")
    page.get_by_role("button", name="Search").click()
    pinned = page.get_by_role("region", name=re.compile("New customer input"))
    expect(pinned.get_by_role("row").filter(has_text="1-PIN-777")).to_be_visible()
    results = page.get_by_role("region", name=re.compile("Search results"))
    expect(results.locator(".count")).to_have_text("1")
    expect(results).to_contain_text("No other appointment matches.")
    expect(results).not_to_contain_text("No appointment matches.")
