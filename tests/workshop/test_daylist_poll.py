"""The list's 5-second poll answers "unchanged" from the cache, and every flow that changes
what the list shows makes the next poll bring the new rows (`workshop.daylist.Poll`)."""

import json
import re
import time
from datetime import time as clock
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from notifications import conversation, delivery
from notifications.invitations import dispatch_due_invitations, resend_invitation
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    DealershipFactory,
    MembershipFactory,
    UserFactory,
    VehicleFactory,
)
from tests.workshop.staffdata import answered
from workshop import checkin as flow
from workshop import daylist
from workshop.booking import book_appointment
from workshop.daylist import SEEN_SECONDS
from workshop.models import Customer, Membership, OnlineCheckIn

pytestmark = pytest.mark.django_db

LIST = reverse("workshop:appointments")
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def poll_cache(settings):
    """On, as with a shared cache (CACHE_URL); each test starts with an empty one."""
    settings.DAYLIST_POLL_CACHE = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dealership(db):
    """Sends at any hour, so the dispatcher queues an invitation whenever the test runs."""
    return DealershipFactory(
        sending_starts=clock(0, 0), sending_ends=clock(23, 59, 59), sending_days="1234567"
    )


@pytest.fixture
def appointment(dealership):
    """Upcoming (so it can be invited), a few hours from now."""
    return AppointmentFactory(dealership=dealership, starts_at=timezone.now() + timedelta(hours=3))


def refresh_url(client, appointment) -> str:
    day = timezone.localtime(appointment.starts_at, appointment.dealership.tz).date()
    body = client.get(LIST, {"day": day.isoformat()}).content.decode()
    match = re.search(r'id="results"[^>]*hx-get="([^"]+)"', body)
    assert match, "the list polls for changes"
    return match.group(1).replace("&amp;", "&")


def settled(client, url, django_assert_num_queries) -> None:
    """Polled twice: the first reads the list, the second answers from the cache."""
    assert client.get(url, headers=HTMX).status_code == 204
    with django_assert_num_queries(0):  # not even the session: the cache alone
        response = client.get(url, headers=HTMX)
    assert response.status_code == 204
    assert response.content == b""


def test_an_unchanged_list_is_answered_from_the_cache(
    staff_client, appointment, django_assert_num_queries
):
    url = refresh_url(staff_client, appointment)
    # The first poll reads the session, user, memberships and the list (its ids, then
    # its fingerprint's text): no poll has seen it yet.
    with django_assert_num_queries(5):
        assert staff_client.get(url, headers=HTMX).status_code == 204
    for _ in range(3):
        with django_assert_num_queries(0):
            assert staff_client.get(url, headers=HTMX).status_code == 204


def _dispatched(appointment):
    (message,) = dispatch_due_invitations()
    return message


def _sent(appointment):
    message = _dispatched(appointment)
    delivery.send_message(message.pk)
    message.refresh_from_db()
    return message


def _sent_by_sms_only(appointment):
    Customer.objects.filter(pk=appointment.customer_id).update(email="")
    return _sent(appointment)


def _open_items(appointment):
    return answered(appointment, remarks=(("One", "1"), ("Two", "2")))["remarks"]


def _book(appointment):
    dealership = appointment.dealership
    book_appointment(
        dealership=dealership,
        customer=CustomerFactory(dealership=dealership, last_name="Newlybooked"),
        vehicle=VehicleFactory(dealership=dealership),
        starts_at=appointment.starts_at + timedelta(minutes=5),
        ends_at=appointment.starts_at + timedelta(hours=1),
        external_ref="DMS-NEW01",
    )


FLOWS = {
    # name: (before the list is shown, the change, what the list then shows)
    "booked": (None, lambda a, _before: _book(a), "Newlybooked"),
    "opened": (None, lambda a, _before: flow.record_opened(a.checkin), "class=pg-opened"),
    "answered": (None, lambda a, _before: answered(a), "1 open item"),
    "item handled": (
        _open_items,
        lambda a, remarks: flow.handle_item(remarks[0], UserFactory()),
        "1 open item",
    ),
    "remark converted": (
        _open_items,
        lambda a, remarks: flow.convert_item(
            remarks[1], UserFactory(), description="Brakes", price=10
        ),
        "1 open item",
    ),
    "invitation queued": (None, lambda a, _before: _dispatched(a), "class=st-queued"),
    "invitation resent": (
        None,
        lambda a, _before: resend_invitation(a, UserFactory()),
        "class=st-queued",
    ),
    "invitation sent": (
        _dispatched,
        lambda a, message: delivery.send_message(message.pk),
        "class=st-sent",
    ),
    "invitation delivered": (
        _sent,
        lambda a, message: delivery.record_status(message, "delivered"),
        "class=st-delivered",
    ),
    "confirmed by a one-word SMS": (
        None,
        lambda a, _before: delivery.record_inbound(
            sender=str(a.customer.phone), to="", body="Ja", provider_id="SM-poll-ja"
        ),
        "class=cf-confirmed",
    ),
    "a question from the check-in page": (
        None,
        lambda a, _before: conversation.write_from_portal(
            a.checkin, "Can you also look at the wipers?", key="poll-question"
        ),
        "flag-message",
    ),
    "a question answered by staff (read, no longer pinned)": (
        lambda a: conversation.write_from_portal(a.checkin, "Wipers too?", key="poll-read"),
        lambda a, _before: conversation.send_reply(
            a, user=UserFactory(), channel="sms", body="Of course."
        ),
        "<tr><td>",  # the rows again (200, not 204): the message icon is gone
    ),
    "customer not reachable": (
        _sent_by_sms_only,
        lambda a, message: delivery.record_status(message, "undelivered", error_code="30003"),
        "class=st-unreachable",
    ),
}


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_that_changes_the_list_shows_at_the_next_poll(
    name,
    staff_client,
    appointment,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    before, change, shows = FLOWS[name]
    with django_capture_on_commit_callbacks(execute=True):
        prepared = before(appointment) if before else None
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)

    with django_capture_on_commit_callbacks(execute=True):
        change(appointment, prepared)

    response = staff_client.get(url, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the list's part, swapped in place
    assert shows in body
    # And the poll after it is quiet again, from the cache.
    settled(staff_client, refresh_url(staff_client, appointment), django_assert_num_queries)


def test_another_dealerships_change_does_not_wake_the_poll(
    staff_client, appointment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)
    elsewhere = AppointmentFactory(starts_at=appointment.starts_at)
    with django_capture_on_commit_callbacks(execute=True):
        answered(elsewhere)
        flow.record_opened(elsewhere.checkin)
    with django_assert_num_queries(0):
        assert staff_client.get(url, headers=HTMX).status_code == 204


@pytest.fixture
def seen_for_a_second(monkeypatch):
    """What a poll saw is kept a second instead of SEEN_SECONDS (the cache's own clock,
    Redis's too, decides when it is gone)."""
    assert SEEN_SECONDS == 60
    monkeypatch.setattr(daylist, "SEEN_SECONDS", 1)


def poll_until(client, url, status: int, within: float = 10):
    """Polls as the page does until the answer is `status` (the cache forgot what it
    saw), at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = client.get(url, headers=HTMX)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_a_change_no_flow_reported_shows_within_a_minute(
    staff_client, appointment, django_assert_num_queries, seen_for_a_second
):
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)
    OnlineCheckIn.objects.filter(appointment=appointment).update(invitation_status="failed")
    assert staff_client.get(url, headers=HTMX).status_code == 204  # not told: still cached
    response = poll_until(staff_client, url, 200)
    assert response.status_code == 200
    assert "class=st-failed" in response.content.decode()


def test_a_signed_out_session_is_sent_to_sign_in(
    staff_client, appointment, django_assert_num_queries
):
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)
    staff_client.logout()
    response = staff_client.get(url, headers=HTMX)
    # The log-in page, as htmx is told to go somewhere (the redirect as HX-Location).
    assert json.loads(response["HX-Location"])["path"].startswith(reverse("login"))


def test_a_cache_that_forgot_everything_reads_the_list_again(
    staff_client, appointment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)
    cache.clear()  # a restarted Redis: versions start afresh, never where they were
    with django_capture_on_commit_callbacks(execute=True):
        flow.record_opened(appointment.checkin)
    response = staff_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert "class=pg-opened" in response.content.decode()


def test_a_membership_taken_away_stops_the_poll_within_a_minute(
    client, dealership, appointment, django_assert_num_queries, seen_for_a_second
):
    user = MembershipFactory(dealership=dealership).user
    client.force_login(user)
    url = refresh_url(client, appointment)
    settled(client, url, django_assert_num_queries)
    Membership.objects.filter(user=user).delete()
    # Until then it learns only that nothing changed; after, the list is not theirs.
    assert poll_until(client, url, 404).status_code == 404


def test_a_colleagues_poll_of_another_day_does_not_vouch_for_mine(
    staff_client,
    dealership,
    appointment,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    """What a poll saw is kept per user and list asked for: a list of another day, alike
    today (both empty, say), never answers for this one."""
    empty_day = AppointmentFactory(
        dealership=dealership, starts_at=appointment.starts_at + timedelta(days=20)
    )
    url = refresh_url(staff_client, appointment)
    other_url = refresh_url(staff_client, empty_day)
    settled(staff_client, url, django_assert_num_queries)
    settled(staff_client, other_url, django_assert_num_queries)
    with django_capture_on_commit_callbacks(execute=True):
        flow.record_opened(appointment.checkin)
    assert staff_client.get(other_url, headers=HTMX).status_code == 204
    response = staff_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert "class=pg-opened" in response.content.decode()


def test_without_a_shared_cache_every_poll_reads_the_list(
    settings, staff_client, appointment, django_assert_num_queries
):
    settings.DAYLIST_POLL_CACHE = False
    url = refresh_url(staff_client, appointment)
    for _ in range(2):
        with django_assert_num_queries(5):  # session, user, memberships, the list (ids, text)
            assert staff_client.get(url, headers=HTMX).status_code == 204
    OnlineCheckIn.objects.filter(appointment=appointment).update(invitation_status="failed")
    assert staff_client.get(url, headers=HTMX).status_code == 200


def test_a_poll_naming_another_dealership_reads_the_list(
    staff_client, appointment, django_assert_num_queries
):
    """The dealership in the poll's URL only says which version to read with what was
    seen: what was seen must be of that dealership, else the list is read."""
    url = refresh_url(staff_client, appointment)
    settled(staff_client, url, django_assert_num_queries)
    other = DealershipFactory()
    named_other = re.sub(r"at=\d+", f"at={other.pk}", url)
    assert named_other != url
    with django_assert_num_queries(5):  # session, user, memberships, the list (ids, text)
        assert staff_client.get(named_other, headers=HTMX).status_code == 204
