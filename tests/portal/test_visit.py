"""The visit from the customer's side: cancelling, asking for another date, and what
the link shows once the check-in has closed (arrived, ready, the rating, rebooking)."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.visit_pages import LINK_OPEN_AFTER_VISIT
from tests.portal.conftest import nl, url
from workshop import visit
from workshop.answers import read_answers
from workshop.models import Appointment, AppointmentEvent, CheckInItem, Review

pytestmark = pytest.mark.django_db

Kind, State, Status = CheckInItem.Kind, CheckInItem.State, Appointment.Status
PAGE_LIMIT = 60_000  # bytes: pages load on a poor connection


def text(response) -> str:
    body = response.content.decode()
    assert len(response.content) < PAGE_LIMIT
    return body


def local_today(checkin) -> date:
    return timezone.localdate(timezone=checkin.appointment.dealership.tz)


def collected(checkin, *, days_ago: float = 0) -> Appointment:
    appointment = checkin.appointment
    when = timezone.now() - timedelta(days=days_ago)
    Appointment.objects.filter(pk=appointment.pk).update(
        status=Status.DONE, collected_at=when, starts_at=when - timedelta(hours=4)
    )
    appointment.refresh_from_db()
    return appointment


# --- Cancelling -----------------------------------------------------------------------


def test_the_welcome_page_offers_another_date_and_cancelling(client, checkin):
    body = text(client.get(url(checkin, "welcome")))
    assert url(checkin, "cancel") in body
    assert url(checkin, "other_date") in body


def test_the_customer_cancels_with_a_reason_and_the_appointment_is_pinned(client, checkin):
    page = client.get(url(checkin, "cancel"))
    assert nl("Yes, cancel my appointment") in text(page)
    response = client.post(url(checkin, "cancel"), {"reason": "  Ik ben ziek  "})
    assert response.status_code == 302
    assert response["Location"] == url(checkin, "welcome")
    appointment = Appointment.objects.get(pk=checkin.appointment_id)
    assert appointment.status == Status.CANCELLED
    assert appointment.cancelled_by == Appointment.CancelledBy.CUSTOMER
    assert appointment.cancel_reason == "Ik ben ziek"
    (item,) = CheckInItem.objects.filter(kind=Kind.CANCELLED)
    assert item.state == State.OPEN
    assert appointment.is_pinned
    # The link now says so, with how to book again.
    after = client.get(url(checkin, "welcome"))
    assert after.status_code == 200
    body = text(after)
    assert nl("Your appointment is cancelled") in body
    assert "tel:+3292101010" in body


def test_cancelling_twice_cancels_once(client, checkin):
    for _ in range(2):
        response = client.post(url(checkin, "cancel"), {"reason": ""})
    assert response.status_code == 200  # the second lands on the cancelled page
    assert nl("Your appointment is cancelled") in text(response)
    assert CheckInItem.objects.filter(kind=Kind.CANCELLED).count() == 1
    assert AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CANCELLED).count() == 1


def test_after_the_free_cancellation_limit_the_page_says_to_call(client, checkin, time_machine):
    appointment = checkin.appointment
    time_machine.move_to(appointment.starts_at - timedelta(hours=23))
    body = text(client.get(url(checkin, "cancel")))
    assert nl("Please call us to cancel") in body
    assert 'href="tel:+3292101010"' in body
    assert nl("Yes, cancel my appointment") not in body
    assert 'action="' + url(checkin, "cancel") not in body
    response = client.post(url(checkin, "cancel"), {"reason": "te laat"})
    assert response.status_code == 409
    appointment.refresh_from_db()
    assert appointment.status == Status.SCHEDULED
    assert not CheckInItem.objects.exists()


def test_a_longer_free_cancellation_setting_is_kept(client, checkin):
    dealership = checkin.appointment.dealership
    dealership.free_cancellation_hours = 72  # the appointment is two days ahead
    dealership.save()
    assert nl("Please call us to cancel") in text(client.get(url(checkin, "cancel")))


# --- Another date -------------------------------------------------------------------------


def other_date_post(checkin, *days: tuple[date, str], note: str = "") -> dict:
    data = {"note": note}
    for n, (day, part) in enumerate(days, start=1):
        data[f"day_{n}"] = day.isoformat()
        data[f"part_{n}"] = part
    return data


def test_the_customer_asks_for_another_date_and_sees_the_days_asked(client, checkin):
    today = local_today(checkin)
    first, second = today + timedelta(days=5), today + timedelta(days=6)
    data = other_date_post(checkin, (first, "morning"), (second, "afternoon"), note="Liefst vroeg")
    response = client.post(url(checkin, "other_date"), data)
    assert response.status_code == 302
    (item,) = CheckInItem.objects.filter(kind=Kind.DATE_REQUEST)
    assert item.state == State.OPEN
    assert item.description == "Liefst vroeg"
    assert item.preferred_days == [
        {"day": first.isoformat(), "part": "morning"},
        {"day": second.isoformat(), "part": "afternoon"},
    ]
    assert checkin.appointment.is_pinned
    body = text(client.get(url(checkin, "other_date")))
    assert nl("We will get back to you") in body
    assert str(first.day) in body
    assert str(second.day) in body
    assert nl("Afternoon", "part of the day") in body
    # Changing the request shows the days asked in the form.
    again = text(client.get(url(checkin, "other_date") + "?change=1"))
    assert f'value="{first.isoformat()}"' in again


def test_asking_twice_for_the_same_days_asks_once(client, checkin):
    data = other_date_post(checkin, (local_today(checkin) + timedelta(days=3), "morning"))
    client.post(url(checkin, "other_date"), data)
    client.post(url(checkin, "other_date"), data)
    assert CheckInItem.objects.filter(kind=Kind.DATE_REQUEST).count() == 1
    assert AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.DATE_REQUESTED).count() == 1


@pytest.mark.parametrize("days_ahead", [0, -1, 91])
def test_a_day_in_the_past_or_too_far_ahead_is_refused_next_to_the_field(
    client, checkin, days_ahead
):
    day = local_today(checkin) + timedelta(days=days_ahead)
    data = other_date_post(checkin, (day, "afternoon"), note="Bewaar deze tekst")
    response = client.post(url(checkin, "other_date"), data)
    assert response.status_code == 400
    body = text(response)
    error = nl("Choose a day after today, at most %(days)d days ahead.") % {"days": 90}
    assert 'id="id_day_1_error"' in body
    assert error in body
    assert "Bewaar deze tekst" in body  # nothing entered is lost
    assert f'value="{day.isoformat()}"' in body
    assert not CheckInItem.objects.exists()


def test_asking_without_a_day_says_so(client, checkin):
    response = client.post(url(checkin, "other_date"), {"note": "Maakt niet uit"})
    assert response.status_code == 400
    assert nl("Choose at least one day that suits you.") in text(response)


def test_another_date_closes_when_the_appointment_starts(client, checkin, time_machine):
    time_machine.move_to(checkin.appointment.starts_at + timedelta(minutes=1))
    data = other_date_post(checkin, (local_today(checkin) + timedelta(days=3), "morning"))
    response = client.post(url(checkin, "other_date"), data)
    assert response.status_code == 410
    assert not CheckInItem.objects.exists()


# --- The link after the check-in closed ---------------------------------------------------


def test_arrived_the_link_says_we_have_the_car_and_when_it_should_be_ready(client, checkin):
    appointment = checkin.appointment
    promised = appointment.starts_at + timedelta(hours=5)
    visit.arrive(appointment, user=None, promised_ready_at=promised)
    response = client.get(url(checkin, "welcome"))
    assert response.status_code == 200
    body = text(response)
    assert nl("We have your car") in body
    local = timezone.localtime(promised, appointment.dealership.tz)
    assert local.strftime("%H:%M") in body
    # The check-in itself takes no more answers.
    posted = client.post(
        url(checkin, "remarks"), {"new-subject": "Nog iets", "new-description": ""}
    )
    assert not CheckInItem.objects.filter(kind=Kind.REMARK).exists()
    assert nl("We have your car") in text(posted)


def test_ready_the_link_says_so_with_the_opening_hours(client, checkin):
    appointment = checkin.appointment
    appointment.dealership.opening_hours = "Ma-vr 7:30-18:00"
    appointment.dealership.save()
    visit.arrive(appointment, user=None)
    visit.ready(appointment, user=None)
    body = text(client.get(url(checkin, "contact")))
    assert nl("Your car is ready") in body
    assert "Ma-vr 7:30-18:00" in body


def test_collected_the_link_asks_for_a_rating_and_a_low_one_pins(client, checkin):
    collected(checkin)
    body = text(client.get(url(checkin, "welcome")))
    assert nl("How was your visit?") in body
    assert body.count('type="radio" name="stars"') == 5
    response = client.post(url(checkin, "rate"), {"stars": "2", "comment": "Te lang gewacht"})
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.stars, review.comment) == (2, "Te lang gewacht")
    (item,) = CheckInItem.objects.filter(kind=Kind.LOW_RATING)
    assert item.state == State.OPEN
    assert checkin.appointment.is_pinned
    thanks = text(client.get(url(checkin, "welcome")))
    assert (
        nl("We are sorry your visit was not what you expected. Our manager will be in touch.")
        in thanks
    )
    assert 'name="stars"' not in thanks


def test_rating_twice_keeps_the_first(client, checkin):
    collected(checkin)
    client.post(url(checkin, "rate"), {"stars": "5", "comment": ""})
    response = client.post(url(checkin, "rate"), {"stars": "1", "comment": "oeps"})
    assert response.status_code == 302
    assert Review.objects.get().stars == 5
    assert not CheckInItem.objects.exists()


def test_a_rating_without_stars_is_refused_and_keeps_the_comment(client, checkin):
    collected(checkin)
    response = client.post(url(checkin, "rate"), {"comment": "Prima service"})
    assert response.status_code == 400
    body = text(response)
    assert nl("Choose from 1 to 5 stars.") in body
    assert "Prima service" in body
    assert not Review.objects.exists()


def test_with_its_own_review_page_the_dealership_gets_the_review(client, checkin):
    dealership = checkin.appointment.dealership
    dealership.review_url = "https://reviews.example/garage-leie"
    dealership.save()
    collected(checkin)
    body = text(client.get(url(checkin, "welcome")))
    assert 'href="https://reviews.example/garage-leie"' in body
    assert 'name="stars"' not in body
    client.post(url(checkin, "rate"), {"stars": "4"})
    assert not Review.objects.exists()


def test_the_rating_is_only_for_a_collected_visit(client, checkin):
    response = client.post(url(checkin, "rate"), {"stars": "1"})
    assert not Review.objects.exists()
    assert response["Location"] == url(checkin, "welcome")  # upcoming: nothing to rate
    visit.arrive(checkin.appointment, user=None)
    response = client.post(url(checkin, "rate"), {"stars": "1"})
    assert nl("We have your car") in text(response)
    assert not Review.objects.exists()


def test_the_link_closes_some_time_after_the_visit(client, checkin):
    collected(checkin, days_ago=LINK_OPEN_AFTER_VISIT.days + 1)
    response = client.get(url(checkin, "welcome"))
    assert response.status_code == 410
    assert nl("This check-in has closed") in text(response)
    client.post(url(checkin, "rate"), {"stars": "1"})
    assert not Review.objects.exists()


@pytest.mark.parametrize("booking_url", ["", "https://garage.example/boeken"])
def test_cancelled_by_the_workshop_the_link_says_how_to_rebook(client, checkin, booking_url):
    appointment = checkin.appointment
    appointment.dealership.booking_url = booking_url
    appointment.dealership.save()
    visit.cancel(appointment, by=Appointment.CancelledBy.WORKSHOP, reason="Booked twice")
    body = text(client.get(url(checkin, "welcome")))
    assert nl("Your appointment is cancelled") in body
    assert nl("This appointment has been cancelled. We are sorry for the trouble.") in body
    assert "tel:+3292101010" in body
    assert (f'href="{booking_url}"' in body) is bool(booking_url)


def test_a_no_show_gets_the_rebook_page(client, checkin):
    appointment = checkin.appointment
    Appointment.objects.filter(pk=appointment.pk).update(
        status=Status.NO_SHOW, no_show_at=timezone.now()
    )
    body = text(client.get(url(checkin, "welcome")))
    assert nl("We missed you") in body


def test_the_language_can_be_switched_on_the_visit_pages(client, checkin):
    visit.arrive(checkin.appointment, user=None)
    response = client.post(
        url(checkin, "language"), {"language": "fr", "next": url(checkin, "welcome")}
    )
    assert response.status_code == 302
    assert 'lang="fr"' in text(client.get(url(checkin, "welcome")))


# --- The answers read model ------------------------------------------------------------------


def test_visit_items_are_not_check_in_answers(client, checkin):
    appointment = checkin.appointment
    visit.request_other_date(appointment, [(local_today(checkin) + timedelta(days=4), "morning")])
    visit.cancel_by_customer(appointment, reason="Verhuisd")
    answers = read_answers(checkin, "nl")
    assert not answers.has_unsent
    for version in (answers.sent, answers.current):
        assert version.remarks == []
        assert version.accepted == []
        assert version.contact == []
    # Staff handle them on the appointment page, with the others.
    assert {item.kind for item in answers.staff_items} == {Kind.DATE_REQUEST, Kind.CANCELLED}


# --- Fixed query counts --------------------------------------------------------------------
# The check-in with its appointment, dealership, customer and car is one query; a page
# adds what it shows (the open date request, the review). Posts: the check-in, then the step.


def arrived(checkin) -> None:
    visit.arrive(checkin.appointment, user=None)


def ready(checkin) -> None:
    visit.arrive(checkin.appointment, user=None)
    visit.ready(checkin.appointment, user=None)


def cancelled(checkin) -> None:
    visit.cancel(checkin.appointment, by=Appointment.CancelledBy.WORKSHOP)


def date_asked(checkin) -> None:
    day = local_today(checkin) + timedelta(days=3)
    visit.request_other_date(checkin.appointment, [(day, "morning")])


PAGES = {
    # name: (set up, page, queries)
    "cancel": (None, "cancel", 1),
    "other_date": (None, "other_date", 2),
    "other_date asked": (date_asked, "other_date", 2),
    "arrived": (arrived, "welcome", 1),
    "ready": (ready, "welcome", 1),
    "rating": (collected, "welcome", 2),
    "rate": (collected, "rate", 2),
    "cancelled": (cancelled, "welcome", 1),
}


@pytest.mark.parametrize("size", [1, 20])
@pytest.mark.parametrize("name", list(PAGES))
def test_a_visit_page_runs_a_fixed_number_of_queries(
    checkin, django_assert_num_queries, settings, name, size
):
    from tests.portal.test_queries import fill

    settings.CHECKIN_MAX_REMARKS = 2 * size
    fill(checkin, size)
    set_up, page, queries = PAGES[name]
    if set_up is not None:
        set_up(checkin)
    client = Client()
    client.get(url(checkin, "welcome"))
    client.post(url(checkin, "seen"))
    with django_assert_num_queries(queries):
        response = client.get(url(checkin, page))
    assert response.status_code == 200
    assert len(response.content) < PAGE_LIMIT


def post_queries(checkin, size: int, name: str, data: dict, set_up=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.portal.test_queries import fill

    fill(checkin, size)
    if set_up is not None:
        set_up(checkin)
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(checkin, name), data)
    assert response.status_code == 302
    return len(queries)


def posts(checkin) -> dict:
    day = local_today(checkin) + timedelta(days=3)
    return {
        "cancel": ({"reason": "Ziek"}, None),
        "other_date": (other_date_post(checkin, (day, "morning"), note="Later"), date_asked),
        "rate": ({"stars": "1", "comment": "Slecht"}, collected),
    }


@pytest.mark.parametrize("name", ["cancel", "other_date", "rate"])
def test_a_visit_post_runs_the_same_queries_whatever_the_history(settings, name):
    """Counted, not fixed here: the messages a step queues (`visit.tell`) add their own."""
    from tests.factories import AppointmentFactory

    settings.CHECKIN_MAX_REMARKS = 40
    counts = []
    for size in (1, 20):
        checkin = AppointmentFactory().checkin
        data, set_up = posts(checkin)[name]
        counts.append(post_queries(checkin, size, name, data, set_up))
    assert counts[0] == counts[1]
