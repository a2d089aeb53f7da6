import re

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.compose import build_message
from tests.factories import AppointmentFactory, DealershipFactory, MembershipFactory
from workshop.models import Role

pytestmark = pytest.mark.django_db

OUTBOX = reverse("notifications:outbox")


def make_messages(dealership, count: int, channel: str = "sms"):
    messages = []
    for _ in range(count):
        appointment = AppointmentFactory(dealership=dealership)
        message = build_message(
            appointment, "invitation", channel, now=timezone.now(), overrides={}
        )
        message.save()
        messages.append(message)
    return messages


@pytest.fixture
def demo(settings):
    settings.DEMO_MODE = True


def test_the_outbox_exists_only_in_demo_mode(staff_client, dealership):
    make_messages(dealership, 1)
    assert staff_client.get(OUTBOX).status_code == 404


def test_the_outbox_needs_a_staff_login(client, demo):
    response = client.get(OUTBOX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_outbox_shows_each_message_newest_first_with_clickable_links(
    staff_client, dealership, demo
):
    older, newer = make_messages(dealership, 2)
    email = make_messages(dealership, 1, channel="email")[0]

    response = staff_client.get(OUTBOX)

    html = response.content.decode()
    assert response.status_code == 200
    positions = [html.index(f'id="message-{m.pk}"') for m in (email, newer, older)]
    assert positions == sorted(positions)
    for message in (older, newer):
        link = message.appointment.checkin.link
        assert re.search(rf'<a href="{re.escape(link)}"[^>]*>{re.escape(link)}</a>', html)
    assert email.subject in html
    assert reverse("notifications:outbox_email", args=[email.pk]) in html


def test_the_outbox_runs_a_fixed_number_of_queries(
    staff_client, dealership, demo, django_assert_num_queries
):
    # Session, user, memberships, the page count, the page of messages with what they show.
    make_messages(dealership, 2)
    with django_assert_num_queries(5):
        staff_client.get(OUTBOX)
    make_messages(dealership, 12)
    make_messages(dealership, 3, channel="email")
    with django_assert_num_queries(5):
        response = staff_client.get(OUTBOX)
    assert response.content.decode().count('class="outbox-message"') == 17


def test_staff_see_only_their_dealerships_messages(staff_client, dealership, demo):
    (mine,) = make_messages(dealership, 1)
    (theirs,) = make_messages(DealershipFactory(), 1)
    html = staff_client.get(OUTBOX).content.decode()
    assert f'id="message-{mine.pk}"' in html
    assert f'id="message-{theirs.pk}"' not in html
    email = make_messages(DealershipFactory(), 1, channel="email")[0]
    assert (
        staff_client.get(reverse("notifications:outbox_email", args=[email.pk])).status_code == 404
    )


def test_an_email_opens_as_the_customer_sees_it(staff_client, dealership, demo):
    (email,) = make_messages(dealership, 1, channel="email")

    response = staff_client.get(reverse("notifications:outbox_email", args=[email.pk]))

    assert response.status_code == 200
    assert response.content.decode() == email.html_body
    policy = response["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'none'" in policy


def test_mechanics_cannot_read_the_outbox(client, mechanic, dealership, demo):
    """Customers' links, phone numbers and prices are for the office, as on every page."""
    (email,) = make_messages(dealership, 1, channel="email")
    client.force_login(mechanic)
    assert client.get(OUTBOX).status_code == 404
    assert client.get(reverse("notifications:outbox_email", args=[email.pk])).status_code == 404


def test_a_mechanic_who_is_a_receptionist_elsewhere_reads_only_that_outbox(
    client, mechanic, dealership, demo
):
    office = DealershipFactory()
    MembershipFactory(user=mechanic, dealership=office, role=Role.RECEPTIONIST)
    (workshop_email,) = make_messages(dealership, 1, channel="email")
    (office_email,) = make_messages(office, 1, channel="email")
    client.force_login(mechanic)
    html = client.get(OUTBOX).content.decode()
    assert f'id="message-{office_email.pk}"' in html
    assert f'id="message-{workshop_email.pk}"' not in html
    email_url = "notifications:outbox_email"
    assert client.get(reverse(email_url, args=[office_email.pk])).status_code == 200
    assert client.get(reverse(email_url, args=[workshop_email.pk])).status_code == 404
