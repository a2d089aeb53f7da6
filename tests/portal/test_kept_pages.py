"""The welcome page, kept per version of its rows (`portal.kept_pages`): served again
while nothing it shows has changed, rendered afresh after any change, whoever made it."""

from datetime import timedelta

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.utils import timezone

from portal import kept_pages
from tests.factories import AppointmentFactory, RemarkFactory
from tests.portal.conftest import nl, url
from workshop.models import Appointment, CheckInItem, Customer, Dealership, OnlineCheckIn, Vehicle

pytestmark = [
    # Versions move with each committed transaction, as between a customer's requests.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row versions are PostgreSQL's; CI runs it"
    ),
]

SEEN_URL = "data-seen-url"


def welcome(client: Client, checkin: OnlineCheckIn) -> str:
    response = client.get(url(checkin, "welcome"))
    assert response.status_code == 200
    return response.content.decode()


def test_an_unchanged_page_is_served_again_on_one_query(checkin, django_assert_num_queries):
    client = Client()
    with django_assert_num_queries(2):  # the versions, then the check-in with its rows
        first = welcome(client, checkin)
    with django_assert_num_queries(1):  # the versions only
        again = welcome(client, checkin)
    assert again == first
    assert nl("Hello %(name)s") % {"name": "Jan"} in again


def _appointment(checkin):
    return Appointment.objects.filter(pk=checkin.appointment_id)


# Each change as some flow makes it (a plain UPDATE, as a conditional step or the DMS
# import does), and what the customer then reads.
CHANGES = {
    "customer's name": (
        lambda c: Customer.objects.filter(pk=c.appointment.customer_id).update(first_name="Piet"),
        lambda: nl("Hello %(name)s") % {"name": "Piet"},
    ),
    "dealership's address": (
        lambda c: Dealership.objects.filter(pk=c.appointment.dealership_id).update(
            street="Nieuwstraat 9"
        ),
        lambda: "Nieuwstraat 9",
    ),
    "car": (
        lambda c: Vehicle.objects.filter(pk=c.appointment.vehicle_id).update(plate="2-ZZZ-999"),
        lambda: "2-ZZZ-999",
    ),
    "time moved": (
        lambda c: _appointment(c).update(
            starts_at=c.appointment.local_start.replace(hour=7, minute=35),
            ends_at=c.appointment.local_start.replace(hour=8, minute=35),
        ),
        lambda: "07:35",
    ),
    "confirmed by a reply": (
        lambda c: _appointment(c).update(confirmation=Appointment.Confirmation.CONFIRMED),
        lambda: nl("You confirmed your appointment. Thank you!"),
    ),
    "check-in sent": (
        lambda c: OnlineCheckIn.objects.filter(pk=c.pk).update(
            answered_at=timezone.now(), last_answered_at=timezone.now()
        ),
        lambda: nl("See or change my answers"),
    ),
    "an answer not sent yet": (
        lambda c: RemarkFactory(checkin=c, state=CheckInItem.State.DRAFT),
        lambda: nl("You have changes that are not sent yet."),
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_to_what_the_page_shows_shows_at_once(checkin, change):
    make, reads = CHANGES[change]
    client = Client()
    welcome(client, checkin)
    before = welcome(client, checkin)  # served from what was kept
    assert reads() not in before
    make(checkin)
    assert reads() in welcome(client, checkin)


def test_a_page_is_kept_under_the_versions_of_what_it_shows(checkin, rf, monkeypatch):
    """An answer saved (or removed) between reading the versions and reading the page's
    data: the page is kept under the versions read with its data, never the earlier ones."""
    before = kept_pages.look_up(_request(rf, checkin), checkin.token)  # nothing unsent
    remark = RemarkFactory(checkin=checkin, state=CheckInItem.State.DRAFT)
    with monkeypatch.context() as interleaved:
        interleaved.setattr(kept_pages, "look_up", lambda request, token: before)
        assert nl("You have changes that are not sent yet.") in welcome(Client(), checkin)
    remark.delete()  # back to the versions read first
    assert nl("You have changes that are not sent yet.") not in welcome(Client(), checkin)


def _request(rf, checkin, note: str = ""):
    request = rf.get(url(checkin, "welcome"))
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    if note:
        messages.success(request, note)
    return request


def test_a_wrong_secret_gets_the_invalid_page_though_the_page_is_kept(checkin):
    welcome(Client(), checkin)
    wrong = checkin.link_selector + "x" * len(checkin.link_verifier)
    response = Client().get(f"/c/{wrong}/")
    assert response.status_code == 404
    assert "Jan" not in response.content.decode()


def test_once_the_appointment_starts_the_link_shows_the_visit_not_the_kept_page(
    checkin, time_machine
):
    client = Client()
    welcome(client, checkin)
    time_machine.move_to(checkin.appointment.starts_at + timedelta(minutes=1))
    response = client.get(url(checkin, "welcome"))
    assert response.status_code == 410  # closed: call us
    assert nl("Start check-in") not in response.content.decode()


def test_the_language_chosen_on_the_link_is_the_one_served(checkin):
    dutch, french = Client(), Client()
    assert 'lang="nl"' in welcome(dutch, checkin)
    french.post(url(checkin, "language"), {"language": "fr", "next": url(checkin, "welcome")})
    assert '<html lang="fr">' in welcome(french, checkin)
    assert '<html lang="nl">' in welcome(dutch, checkin)


def test_a_persons_visit_is_recorded_though_a_scanners_fetch_kept_the_page(checkin):
    Client().get(url(checkin, "welcome"))  # the SMS app's preview: kept, not opened
    person = Client()
    person.get(url(checkin, "details"))
    checkin.refresh_from_db()
    assert checkin.opened_at is None
    page = welcome(person, checkin)  # a second page in the same browser: a person
    checkin.refresh_from_db()
    assert checkin.opened_at is not None
    assert SEEN_URL not in page  # opened: the page no longer asks to be told


def test_a_page_with_a_one_time_message_on_it_is_not_kept(checkin, rf):
    assert kept_pages.look_up(_request(rf, checkin), checkin.token) is not None
    assert kept_pages.look_up(_request(rf, checkin, "Saved."), checkin.token) is None


def test_each_process_keeps_at_most_the_configured_number(
    checkin, settings, django_assert_num_queries
):
    settings.PORTAL_KEPT_PAGES = 2
    kept_pages.pages.clear()
    others = [
        AppointmentFactory(dealership=checkin.appointment.dealership).checkin for _ in range(2)
    ]
    client = Client()
    for each in [checkin, *others]:
        welcome(client, each)
    with django_assert_num_queries(1):
        welcome(client, others[-1])
    with django_assert_num_queries(2):  # the first one went out for the third
        welcome(client, checkin)
