"""The link itself: who gets in, what every response says about caching and indexing."""

import contextlib
import io
import logging
import threading
from datetime import timedelta
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import AppointmentFactory
from tests.portal.conftest import nl, url
from workshop.models import Appointment, AppointmentEvent, CheckInItem, OnlineCheckIn

pytestmark = pytest.mark.django_db

STEPS = ["welcome", "contact", "details", "work", "services", "remarks", "review"]


def assert_private(response):
    assert response["X-Robots-Tag"] == "noindex"
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("name", STEPS)
def test_every_step_opens_and_is_private(client, checkin, name):
    response = client.get(url(checkin, name))
    assert response.status_code == 200
    assert_private(response)
    assert '<meta name="robots" content="noindex">' in response.content.decode()
    assert "Garage Leie" in response.content.decode()


def test_malformed_unknown_and_wrong_tokens_get_the_same_page(client, checkin):
    wrong_verifier = checkin.link_selector + (
        "A" * 18 if checkin.link_verifier != "A" * 18 else "B" * 18
    )
    unknown = "Z" * 26
    malformed = "not-a-token!"
    responses = [client.get(f"/c/{token}/") for token in (wrong_verifier, unknown, malformed)]
    for response in responses:
        assert response.status_code == 404
        assert_private(response)
        assert "This link is not valid" in response.content.decode()
    assert responses[0].content == responses[1].content == responses[2].content
    # A POST with a wrong token changes nothing and gets the same page.
    posted = client.post(f"/c/{wrong_verifier}/review/")
    assert posted.status_code == 404
    assert posted.content == responses[0].content
    assert not CheckInItem.objects.exists()
    checkin.refresh_from_db()
    assert checkin.answered_at is None


def test_a_rotated_link_stops_working_and_the_new_one_works(client, checkin):
    old = checkin.token
    checkin.rotate_link()
    assert client.get(f"/c/{old}/").status_code == 404
    assert client.get(f"/c/{checkin.token}/").status_code == 200


def test_the_link_closes_when_the_appointment_starts(client, checkin, time_machine):
    appointment = checkin.appointment
    time_machine.move_to(appointment.starts_at + timedelta(seconds=1))
    response = client.get(url(checkin, "welcome"))
    assert response.status_code == 410
    assert_private(response)
    body = response.content.decode()
    assert nl("This check-in has closed") in body
    assert appointment.dealership.phone.as_international in body
    assert "tel:+3292101010" in body


@pytest.mark.parametrize("status", [Appointment.Status.CANCELLED, Appointment.Status.DONE])
def test_the_link_is_closed_for_a_cancelled_or_done_appointment(client, checkin, status):
    Appointment.objects.filter(pk=checkin.appointment_id).update(status=status)
    assert client.get(url(checkin, "welcome")).status_code == 410


def test_a_closed_link_takes_no_answers(client, checkin, time_machine):
    time_machine.move_to(checkin.appointment.starts_at + timedelta(minutes=5))
    response = client.post(url(checkin, "remarks"), {"new-subject": "Late", "new-description": ""})
    assert response.status_code == 410
    assert not CheckInItem.objects.exists()


def test_only_the_first_visit_is_recorded_and_gets_change_nothing_else(client, checkin):
    for name in STEPS:
        client.get(url(checkin, name))
    checkin.refresh_from_db()
    assert checkin.opened_at is not None
    assert list(AppointmentEvent.objects.values_list("kind", flat=True)) == [
        AppointmentEvent.Kind.CHECKIN_OPENED
    ]
    assert not CheckInItem.objects.exists()
    assert checkin.answered_at is None


def test_post_answers_redirect_and_are_private(client, checkin):
    response = client.post(
        url(checkin, "contact"),
        {"preferred_channel": "email", "phone": "+32470123456", "email": "jan@example.com"},
    )
    assert response.status_code == 302
    assert_private(response)


def test_too_many_requests_from_one_address_get_a_friendly_429(client, checkin, settings):
    settings.PORTAL_REQUESTS_PER_MINUTE = 3
    # Early in a minute, and held there: the limit's window cannot roll over mid-test.
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        for _ in range(3):
            assert client.get(url(checkin, "welcome")).status_code == 200
        response = client.get(url(checkin, "welcome"))
        assert response.status_code == 429
        assert_private(response)
        assert response["Retry-After"] == "60"
        assert "Please wait a moment" in response.content.decode()
        # Guessing other tokens counts against the same address.
        assert client.get("/c/" + "Q" * 26 + "/").status_code == 429
        # Another address is not held up.
        other = Client(REMOTE_ADDR="192.0.2.55")
        assert other.get(url(checkin, "welcome")).status_code == 200


def test_checkin_link_prints_the_current_link(checkin, settings):
    appointment = checkin.appointment
    out = io.StringIO()
    call_command("checkin_link", appointment.dealership.slug, appointment.external_ref, stdout=out)
    assert out.getvalue().strip() == checkin.link
    assert checkin.link == f"{settings.SITE_URL}/c/{checkin.token}"
    checkin.rotate_link()
    out = io.StringIO()
    call_command("checkin_link", appointment.dealership.slug, appointment.external_ref, stdout=out)
    assert out.getvalue().strip().endswith(f"/c/{checkin.token}")


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (Appointment.Status.SCHEDULED, None),
        (Appointment.Status.DONE, "the link shows where the visit is (Collected)."),
    ],
)
def test_checkin_link_says_what_a_closed_link_shows(checkin, status, note):
    appointment = checkin.appointment
    Appointment.objects.filter(pk=appointment.pk).update(
        status=status,
        collected_at=timezone.now(),
        starts_at=timezone.now() - timedelta(hours=3),
        ends_at=timezone.now() - timedelta(hours=1),
    )
    err = io.StringIO()
    call_command(
        "checkin_link",
        appointment.dealership.slug,
        appointment.external_ref,
        stdout=io.StringIO(),
        stderr=err,
    )
    assert err.getvalue().strip().endswith(note or "the link shows 'closed'.")


def test_checkin_link_names_what_it_cannot_find(checkin):
    other = AppointmentFactory()  # another dealership's appointment
    with pytest.raises(CommandError, match="No appointment"):
        call_command("checkin_link", checkin.appointment.dealership.slug, other.external_ref)


def test_the_link_fits_one_sms_segment_with_room_to_spare(checkin):
    # 26 characters of token, 104 bits of secret in the verifier alone.
    assert len(checkin.token) == 26
    assert len(checkin.link_verifier) * 6 >= 96


def test_request_logs_never_contain_the_token(checkin, live_server_logging):
    """A real HTTP server's request log and Django's warnings, as the console prints them."""
    base, log = live_server_logging
    for path in (f"/c/{checkin.token}/", f"/c/{checkin.token}/contact/", "/c/" + "W" * 26 + "/"):
        with contextlib.suppress(HTTPError):
            urlopen(base + path, timeout=10).read()  # noqa: S310 - our own test server
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(HTTPError) as closed:
        urlopen(base + f"/c/{checkin.token}/", timeout=10).read()  # noqa: S310
    assert closed.value.code == 410
    text = log.getvalue()
    assert '"GET /c/[redacted]/ HTTP/1.1" 200' in text
    assert '"GET /c/[redacted]/contact/ HTTP/1.1" 200' in text
    assert "Not Found: /c/[redacted]/" in text
    assert checkin.token not in text
    assert checkin.link_verifier not in text


@pytest.fixture
def live_server_logging(transactional_db):
    """Django's own development server in a thread, its console log captured."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    handler = next(h for h in logging.getLogger("django.server").handlers if h.filters)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler, ipv6=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", buffer
    finally:
        server.shutdown()
        server.server_close()
        handler.setStream(previous)


def test_the_link_matches_the_model(checkin):
    assert checkin.link.endswith(reverse("portal:welcome", args=[checkin.token]).rstrip("/"))
    assert OnlineCheckIn.objects.get(link_selector=checkin.token[:8]) == checkin


def test_a_form_post_from_a_no_referrer_page_is_accepted(checkin):
    """Browsers send `Origin: null` and no Referer from a no-referrer page, and some
    phones block cookies: the link itself is the credential, so the post goes through."""
    strict = Client(enforce_csrf_checks=True, HTTP_ORIGIN="null")
    response = strict.post(
        url(checkin, "remarks"), {"new-subject": "Rammel", "new-description": ""}
    )
    assert response.status_code == 302
    assert CheckInItem.objects.filter(subject="Rammel").exists()


def test_the_link_as_sent_opens_without_a_redirect(client, checkin, settings):
    path = checkin.link.removeprefix(settings.SITE_URL)
    assert path == f"/c/{checkin.token}"
    response = client.get(path)
    assert response.status_code == 200
    assert_private(response)
