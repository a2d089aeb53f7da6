"""Opening the link: a person's visit counts, a link scanner's fetch does not.

Mail and SMS apps fetch a link before the customer taps it (a HEAD, or one GET that
nothing follows). Were that "opened", the reminder would never go out.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from notifications.invitations import dispatch_due_reminders
from tests.portal.conftest import url
from workshop.models import Appointment, AppointmentEvent, OnlineCheckIn

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
SEEN_URL = "data-seen-url"


def opened(checkin) -> int:
    """How often the timeline says the customer opened the page."""
    checkin.refresh_from_db()
    events = AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CHECKIN_OPENED).count()
    assert (checkin.opened_at is not None) == (events > 0)
    return events


def scanner() -> Client:
    """A link scanner: no cookies kept from one fetch to the next."""
    return Client()


def test_a_head_and_a_bare_get_leave_the_link_unopened_and_the_reminder_goes(checkin, time_machine):
    # Invited on Monday for Wednesday 10:00; it is Tuesday 12:00, within a day of it.
    start = datetime(2026, 11, 25, 10, 0, tzinfo=BRUSSELS)
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=start, ends_at=start + timedelta(hours=1)
    )
    OnlineCheckIn.objects.filter(pk=checkin.pk).update(
        invitation_status=OnlineCheckIn.InvitationStatus.DELIVERED,
        invited_at=datetime(2026, 11, 23, 9, 0, tzinfo=BRUSSELS),
    )
    time_machine.move_to(datetime(2026, 11, 24, 12, 0, tzinfo=BRUSSELS), tick=False)

    assert scanner().head(url(checkin, "link")).status_code == 200
    assert scanner().get(url(checkin, "link")).status_code == 200
    assert scanner().get(url(checkin, "welcome")).status_code == 200

    assert opened(checkin) == 0
    (reminder,) = dispatch_due_reminders()
    assert reminder.purpose == "reminder"


def test_the_same_page_fetched_again_with_its_cookie_is_not_a_visit(checkin):
    fetcher = Client()
    fetcher.get(url(checkin, "link"))
    fetcher.get(url(checkin, "welcome"))  # a scanner's retry, or a redirect it follows
    fetcher.head(url(checkin, "details"))
    assert opened(checkin) == 0


def test_a_second_page_with_the_cookie_the_first_set_records_the_visit_once(client, checkin):
    client.get(url(checkin, "link"))
    assert opened(checkin) == 0
    client.get(url(checkin, "contact"))  # following the page's "Next" link, no JavaScript
    assert opened(checkin) == 1
    client.get(url(checkin, "details"))
    client.post(url(checkin, "language"), {"language": "fr"})
    assert opened(checkin) == 1


def test_another_links_cookie_proves_nothing(client, checkin):
    from tests.factories import AppointmentFactory

    other = AppointmentFactory(dealership=checkin.appointment.dealership).checkin
    client.get(url(other, "welcome"))
    client.get(url(checkin, "details"))
    assert opened(checkin) == 0


def test_a_post_from_the_page_records_the_visit(checkin):
    browser = Client()
    response = browser.post(url(checkin, "language"), {"language": "fr"})
    assert response.status_code == 302
    assert opened(checkin) == 1


def test_the_page_asks_a_browser_to_say_it_is_seen_until_it_did(client, checkin):
    html = client.get(url(checkin, "link")).content.decode()
    assert f'{SEEN_URL}="{url(checkin, "seen")}"' in html
    assert "js/portal.js" in html

    response = Client().post(url(checkin, "seen"), HTTP_SEC_FETCH_SITE="same-origin")
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"
    assert opened(checkin) == 1
    assert SEEN_URL not in client.get(url(checkin, "welcome")).content.decode()


def test_another_site_cannot_mark_the_link_seen(checkin):
    response = Client().post(url(checkin, "seen"), HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 403
    assert opened(checkin) == 0


def test_seen_is_only_posted(checkin):
    assert Client().get(url(checkin, "seen")).status_code == 405
    assert opened(checkin) == 0
