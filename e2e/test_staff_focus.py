"""Keyboard focus after a change on the appointment page: somewhere sensible, never <body>."""

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from tests.factories import MembershipFactory, UserFactory, WorkItemFactory
from tests.workshop.staffdata import answered, appointment_today, converting_offer
from workshop.models import Role, WorkItem

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "secret-password-1"


@pytest.fixture
def visit(live_server):
    membership = MembershipFactory(role=Role.RECEPTIONIST, user=UserFactory(username="rita"))
    dealership = membership.dealership
    appointment = appointment_today(dealership)
    carwash = converting_offer(dealership, name="Carwash")
    WorkItemFactory(appointment=appointment, description="Oil change", origin=WorkItem.Origin.STAFF)
    made = answered(
        appointment,
        accept=[carwash],
        remarks=[("Squeaky brakes", "A squeak."), ("Rattle", "Something rattles.")],
    )
    return appointment, made


def assert_focus_not_on_body(page: Page) -> None:
    assert page.evaluate("document.activeElement !== document.body")


def confirm(page: Page, dialog_name: str, button: str) -> None:
    dialog = page.get_by_role("dialog", name=dialog_name)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button, exact=True).focus()
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)


def test_focus_goes_to_the_next_open_item_then_the_section_that_changed(
    live_server, page: Page, visit
):
    appointment, made = visit
    _squeaky, rattle = made["remarks"]
    log_in(page, live_server.url, "rita", PASSWORD)
    page.goto(f"{live_server.url}/staff/appointments/{appointment.pk}/")
    # Every change below happens in this one page: a dialog confirmed before htmx wired up
    # its form would post as a plain page, and the reloaded page would lose this mark.
    page.evaluate("window.stillTheSamePage = true")

    # Handling the first remark: focus moves on to the next open item, the other remark.
    page.get_by_role("link", name="Mark handled: Squeaky brakes").focus()
    page.keyboard.press("Enter")
    confirm(page, "Mark handled", "Mark handled")
    expect(page.locator(f"#item-{rattle.pk}")).to_be_focused()
    assert_focus_not_on_body(page)

    # An offer added as a work item leaves the section: focus goes to the open remark.
    page.get_by_role("button", name="Add as work item: Carwash").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#work").get_by_text("Carwash")).to_be_visible()
    expect(page.locator(f"#item-{rattle.pk}")).to_be_focused()

    # The last open item converted: nothing is left open, focus is on the check-in section.
    page.get_by_role("link", name="Convert to work item: Rattle").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Convert to work item")
    dialog.get_by_label("Price incl. VAT").fill("40")
    confirm(page, "Convert to work item", "Add work item")
    expect(page.locator("#checkin")).to_be_focused()
    assert_focus_not_on_body(page)

    # A work item removed: its row is gone, focus is on the work items.
    page.get_by_role("link", name="Remove: Oil change").focus()
    page.keyboard.press("Enter")
    confirm(page, "Remove a work item", "Remove")
    expect(page.locator("#work").get_by_text("Oil change")).to_have_count(0)
    expect(page.locator("#work")).to_be_focused()
    assert_focus_not_on_body(page)
    assert page.evaluate("window.stillTheSamePage === true")
