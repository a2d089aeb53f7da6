"""Browser test: a customer answers our e-mail from their mail program, quoting it all,
and the receptionist reads only what is new on the appointment page."""

import json
from pathlib import Path

import pytest
import requests
from django.urls import reverse
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from notifications.reply_to import reply_address
from tests.factories import AppointmentFactory, MembershipFactory
from workshop.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

MIME = Path(__file__).resolve().parents[1] / "tests" / "notifications" / "mime"
FIXTURE_KEY = b"k7m2qx4vtn5wb3hr6yjd2pfa"


def test_an_email_reply_with_quoted_history_shows_only_the_new_text(
    live_server, page: Page, settings
):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["mailhook:correct-horse-battery"]}
    appointment = AppointmentFactory(customer__email="jan.peeters@example.be")
    receptionist = MembershipFactory(dealership=appointment.dealership, role=Role.RECEPTIONIST).user
    # The customer answers the address our e-mail gave them, quoting our whole e-mail.
    reply_address(appointment)
    key = appointment.reply_address.key.encode()
    raw = (MIME / "plain_reply_quoted.eml").read_bytes().replace(FIXTURE_KEY, key)

    # The provider posts it to the webhook, as Postmark does.
    response = requests.post(
        live_server.url + reverse("notifications:inbound_email", args=["postmark"]),
        data=json.dumps(
            {
                "OriginalRecipient": f"reply+{key.decode()}@pitlane.localhost",
                "RawEmail": raw.decode(),
            }
        ),
        headers={"Content-Type": "application/json"},
        auth=("mailhook", "correct-horse-battery"),
        timeout=30,
    )
    assert response.status_code == 200

    log_in(page, live_server.url, receptionist.username, "secret-password-1")
    page.goto(live_server.url + reverse("workshop:appointment", args=[appointment.pk]))
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("E-mail from the customer")
    expect(timeline).to_contain_text(
        "Thursday morning is fine, but could you also look at the rattle in the back door?"
    )
    expect(timeline).to_contain_text("jan.peeters@example.be")
    # Neither our own e-mail quoted back, nor the customer's signature.
    expect(timeline).not_to_contain_text("is booked for service")
    expect(timeline).not_to_contain_text("Peeters Bouw BV")
