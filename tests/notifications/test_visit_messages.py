"""The visit's messages (`notifications.visit_news`): their texts fit one SMS, booking
confirmations, review requests, and the delivery's rules per visit state."""

from datetime import datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from notifications import compose, conversation, delivery, gsm, texts, visit_news
from notifications.admin import MessageTextForm
from notifications.models import VISIT_PURPOSES, Message
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    DealershipFactory,
    VehicleFactory,
)
from workshop import visit
from workshop.booking import book_appointment
from workshop.models import Appointment, OnlineCheckIn

pytestmark = pytest.mark.django_db

Purpose = Message.Purpose
Status = Appointment.Status
BRUSSELS = ZoneInfo("Europe/Brussels")
LANGUAGES = ["en", "nl", "fr", "de"]
HOST_30 = "checkin.autogroepvlaanderen.be"
LONG_NOTE = (
    "We are sorry: the part for your gearbox did not arrive from the factory in time, "
    "so we need another day; a courtesy car is ready for you at the desk."
)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


@pytest.fixture(autouse=True)
def monday_morning():
    """Inside the sending hours, where the workshop's news goes at once (some wait for
    them: `visit_news.send_at`); tests that need another time travel on from here."""
    with time_machine.travel(local("2026-11-23 10:00"), tick=True):
        yield


def worst_case(language: str, status: str = Status.SCHEDULED) -> Appointment:
    """The longest names, address, link, booking and review pages, opening hours and
    reason the SMS must still hold in one segment."""
    dealership = DealershipFactory(
        name="Garage Vandenbroucke-Dewaele 1",
        street="Kortrijksesteenweg 1124",
        postal_code="9051",
        booking_url="https://www.garage-vandenbroucke-dewaele.be/afspraak-maken",
        review_url="https://g.page/r/CVandenbrouckeDewaeleGent1/review-with-a-long-path",
        opening_hours="Monday to Friday 7:30-12:00 and 13:00-18:30, Saturday 9:00-12:00",
    )
    customer = CustomerFactory(
        dealership=dealership, first_name="Maximiliaan-Frederik", language=language
    )
    now = timezone.now()
    return AppointmentFactory(
        dealership=dealership,
        customer=customer,
        vehicle__make="Volkswagen",
        vehicle__model="Golf 8 Variant",
        status=status,
        cancel_reason=LONG_NOTE,
        arrived_at=now,
        promised_ready_at=now + timedelta(days=1),
        moves=3,
    )


@pytest.mark.parametrize("purpose", sorted(VISIT_PURPOSES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_visit_sms_fits_one_gsm7_segment_with_the_longest_values(settings, purpose, language):
    settings.SITE_URL = f"https://{HOST_30}"
    appointment = worst_case(language)

    sms = texts.render(purpose, "sms", appointment, facts={"note": LONG_NOTE}).text
    email = texts.render(purpose, "email", appointment, facts={"note": LONG_NOTE})

    assert gsm.is_gsm7(sms), [c for c in sms if not gsm.is_gsm7(c)]
    assert gsm.segments(sms) == 1, (gsm.septets(sms), sms)
    assert appointment.dealership.name in sms
    for part in (email.subject, email.text, email.html, sms):
        assert part.strip()
        assert "{{" not in part
        assert "{%" not in part
    if purpose in (Purpose.CANCELLED, Purpose.CANCEL_ACK, Purpose.NO_SHOW):
        assert "+32 9 210 10 10" in sms  # how to rebook, whatever had to give way
        assert appointment.dealership.booking_url in email.text
    if purpose in (Purpose.BOOKED, Purpose.MOVED):
        assert f"{appointment.checkin.link}/calendar.ics" in sms
    if purpose == Purpose.REVIEW:
        assert appointment.dealership.review_url in email.text
    if purpose == Purpose.MOVED:
        assert LONG_NOTE in email.text  # whole in the e-mail; in the SMS what fits


def test_a_short_note_is_in_the_sms_whole_and_a_long_one_cut_to_fit():
    appointment = AppointmentFactory()
    sms = texts.render("moved", "sms", appointment, facts={"note": "Parts are late."}).text
    assert "Parts are late." in sms
    sms = texts.render("moved", "sms", appointment, facts={"note": LONG_NOTE}).text
    assert gsm.segments(sms) == 1, sms
    assert "We are sorry: the part for your gearbox" in sms
    assert "..." in sms
    assert sms.endswith(f"{appointment.checkin.link}/calendar.ics")


def test_long_opening_hours_are_cut_to_fit_the_ready_sms():
    appointment = worst_case("en")
    sms = texts.render("ready", "sms", appointment).text
    assert gsm.segments(sms) == 1, (gsm.septets(sms), sms)
    assert "Open: Monday to Friday 7:30-12:00" in sms


def test_the_review_request_links_the_dealerships_page_or_else_the_customers_link():
    appointment = AppointmentFactory(dealership__review_url="https://g.page/r/x/review")
    assert "https://g.page/r/x/review" in texts.render("review_request", "sms", appointment).text
    other = AppointmentFactory()
    assert other.checkin.link in texts.render("review_request", "sms", other).text
    long_page = "https://reviews.example.com/" + "x" * 120
    too_long = AppointmentFactory(dealership__review_url=long_page)
    sms = texts.render("review_request", "sms", too_long).text
    assert too_long.checkin.link in sms  # one SMS: the link leads to the rating page
    assert long_page in texts.render("review_request", "email", too_long).text


def test_a_manager_can_word_a_visit_message_with_its_placeholders_checked():
    dealership = DealershipFactory()
    base = {"dealership": dealership.pk, "channel": "sms", "language": "nl", "subject": ""}
    unknown = MessageTextForm({**base, "purpose": "ready", "body": "{dealership}: {oops}"})
    assert not unknown.is_valid()
    no_link = MessageTextForm({**base, "purpose": "review_request", "body": "{dealership}: hoe?"})
    assert not no_link.is_valid()
    good = MessageTextForm(
        {
            **base,
            "purpose": "ready",
            "body": "{dealership}: uw {vehicle} staat klaar. {opening_hours}",
        }
    )
    assert good.is_valid(), good.errors
    good.save()

    appointment = AppointmentFactory(dealership=dealership)
    appointment.status = Status.ARRIVED
    appointment.save()
    assert visit.ready(appointment, user=None)
    message = Message.objects.get(purpose="ready")
    assert message.body == f"{dealership.name}: uw Volkswagen Golf staat klaar."


# --- The booking confirmation -------------------------------------------------------------


def book(dealership, starts_at: datetime, **fields) -> Appointment:
    customer = fields.pop("customer", None) or CustomerFactory(dealership=dealership)
    return book_appointment(
        dealership=dealership,
        customer=customer,
        vehicle=VehicleFactory(dealership=dealership),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        external_ref=f"WO-{starts_at:%d%H%M}",
        **fields,
    )


def test_a_booking_for_a_later_day_is_confirmed_with_the_date_address_and_calendar():
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 22:30"), tick=False):
        appointment = book(gent, local("2026-11-24 08:00"))  # tomorrow, early

    message = Message.objects.get(appointment=appointment)
    assert (message.purpose, message.channel, message.status) == ("booked", "sms", "queued")
    assert "24/11 08:00" in message.body
    assert "Kortrijksesteenweg 1" in message.body
    assert f"{appointment.checkin.link}/calendar.ics" in message.body


def test_a_confirmation_booked_at_night_waits_for_the_sending_hours(settings):
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 22:30"), tick=False) as traveller:
        appointment = book(gent, local("2026-11-26 08:00"))  # the DMS's nightly import
        message = Message.objects.get(appointment=appointment)
        assert message.queued_at == local("2026-11-24 09:00")
        assert delivery.send_message(message.pk) is None  # a send task now claims nothing
        assert delivery.sweep().requeued == 0
        message.refresh_from_db()
        assert message.status == "queued"

        traveller.move_to(local("2026-11-24 09:00") + timedelta(seconds=61))
        assert delivery.sweep().requeued == 1  # its turn: handed to a send task
        delivery.send_message(message.pk)
    message.refresh_from_db()
    assert message.status == "sent"


def test_the_car_at_the_desk_is_told_at_once_whatever_the_hour():
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 07:30"), tick=False):
        appointment = AppointmentFactory(dealership=gent, starts_at=local("2026-11-23 07:30"))
        visit.arrive(appointment, user=None)
        arrived = Message.objects.get(purpose="arrived")
        assert arrived.queued_at == local("2026-11-23 07:30")
        assert status_after_sending(arrived) == ("sent", "")


def test_the_e_mail_confirmation_carries_the_appointment_for_the_calendar():
    gent = DealershipFactory()
    customer = CustomerFactory(dealership=gent, preferred_channel="email")
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        appointment = book(gent, local("2026-11-27 14:00"), customer=customer)
        message = Message.objects.get(appointment=appointment)
        delivery.send_message(message.pk)

    (email,) = mail.outbox
    assert "Kortrijksesteenweg 1" in email.body
    ((name, content, mimetype),) = email.attachments
    assert (name, mimetype) == ("appointment.ics", "text/calendar; charset=utf-8; method=PUBLISH")
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert event["DTSTART"].dt == local("2026-11-27 14:00")
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"


@pytest.mark.parametrize("starts", ["2026-11-23 16:00", "2026-11-23 08:00", "2026-11-20 10:00"])
def test_no_confirmation_for_today_or_the_past(starts):
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        book(gent, local(starts))
    assert not Message.objects.exists()


def test_the_demo_seeder_books_without_confirmations():
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        book(gent, local("2026-11-26 10:00"), confirm=False)
    assert not Message.objects.exists()


def test_a_queued_confirmation_is_withdrawn_when_the_appointment_moves_and_the_move_is_told():
    gent = DealershipFactory()
    with time_machine.travel(local("2026-11-23 10:00"), tick=False):
        appointment = book(gent, local("2026-11-26 10:00"))
        new = local("2026-11-27 11:00")
        visit.move(appointment, starts_at=new, ends_at=new + timedelta(hours=1), note="")
    booked = Message.objects.get(purpose="booked")
    assert (booked.status, booked.error) == ("cancelled", visit_news.SUPERSEDED)
    assert "27/11 11:00" in Message.objects.get(purpose="moved").body


# --- The delivery's rules per visit state --------------------------------------------------


def queued(appointment: Appointment, purpose: str, **facts) -> Message:
    message = visit_news.tell(appointment, purpose, timezone.now(), **facts)
    assert message is not None
    return message


def status_after_sending(message: Message) -> tuple[str, str]:
    delivery.send_message(message.pk)
    message.refresh_from_db()
    return message.status, message.error


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.ARRIVED, "arrived"),
        (Status.READY, "ready"),
        (Status.DONE, "collected"),
        (Status.DONE, "review"),
        (Status.CANCELLED, "cancelled"),
        (Status.NO_SHOW, "no_show"),
    ],
)
def test_a_visit_message_goes_out_in_the_state_it_announces(status, step):
    appointment = AppointmentFactory(status=status, starts_at=timezone.now() - timedelta(hours=2))
    assert status_after_sending(queued(appointment, step)) == ("sent", "")


def test_a_visit_message_overtaken_by_the_next_step_is_not_sent():
    appointment = AppointmentFactory(status=Status.ARRIVED)
    arrived = queued(appointment, "arrived")
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.READY)
    assert status_after_sending(arrived) == ("cancelled", delivery.NO_LONGER_NEWS)


def test_a_booking_confirmation_is_not_sent_for_a_cancelled_appointment():
    appointment = AppointmentFactory()
    confirmation = queued(appointment, "booked")
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.CANCELLED)
    status, error = status_after_sending(confirmation)
    assert status == "cancelled"
    assert "cancelled" in error


def test_invitations_keep_their_rules_once_the_car_is_here():
    appointment = AppointmentFactory(status=Status.ARRIVED)
    invitation = compose_invitation(appointment)
    assert status_after_sending(invitation) == ("cancelled", delivery.STARTED)


def compose_invitation(appointment: Appointment) -> Message:
    message = compose.build_message(
        appointment, "invitation", "sms", now=timezone.now(), overrides={}
    )
    message.save()
    return message


def test_a_failed_visit_sms_falls_back_to_e_mail_with_its_note():
    appointment = AppointmentFactory()
    new = appointment.starts_at + timedelta(days=1)
    visit.move(appointment, starts_at=new, ends_at=new + timedelta(hours=1), note="Parts late")
    sms = Message.objects.get(purpose="moved")
    fallback = delivery.fail(sms, "Unknown number", from_statuses=["queued"])
    assert fallback is not None
    assert (fallback.channel, fallback.purpose) == ("email", "moved")
    assert "Parts late" in fallback.body


def test_a_staff_reply_goes_out_while_the_car_is_here_but_not_after_a_no_show():
    appointment = AppointmentFactory(status=Status.READY)
    reply = conversation.send_reply(appointment, user=None, channel="sms", body="Klaar!")
    assert status_after_sending(reply) == ("sent", "")
    late = conversation.send_reply(appointment, user=None, channel="sms", body="Nog iets")
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.NO_SHOW)
    status, _error = status_after_sending(late)
    assert status == "cancelled"


# --- The review request ---------------------------------------------------------------------


@pytest.fixture
def gent(db):
    return DealershipFactory(
        review_delay_hours=2, sending_starts=clock(9, 0), sending_ends=clock(19, 0)
    )


def collected(dealership, at: datetime) -> Appointment:
    appointment = AppointmentFactory(
        dealership=dealership,
        starts_at=at - timedelta(hours=4),
        ends_at=at - timedelta(hours=3),
        status=Status.DONE,
        collected_at=at,
    )
    return appointment


def reviews() -> list[Message]:
    return list(Message.objects.filter(purpose=Purpose.REVIEW))


def test_the_review_request_goes_once_the_delay_after_collection(gent):
    appointment = collected(gent, local("2026-11-24 10:00"))
    with time_machine.travel(local("2026-11-24 11:59"), tick=False) as traveller:
        assert visit_news.request_reviews() == 0
        traveller.move_to(local("2026-11-24 12:00"))
        assert visit_news.request_reviews() == 1
        assert visit_news.request_reviews() == 0  # once

    (message,) = reviews()
    assert appointment.checkin.link in message.body
    checkin = OnlineCheckIn.objects.get(appointment=appointment)
    assert checkin.review_requested_at == local("2026-11-24 12:00")


def test_the_review_request_waits_for_sending_hours(gent):
    collected(gent, local("2026-11-24 18:00"))
    with time_machine.travel(local("2026-11-24 20:00"), tick=False) as traveller:
        assert visit_news.request_reviews() == 0
        traveller.move_to(local("2026-11-25 09:00"))
        assert visit_news.request_reviews() == 1


def test_no_review_request_for_old_collections_or_visits_that_were_not_collected(gent):
    collected(gent, local("2026-11-01 10:00"))  # before the window
    AppointmentFactory(dealership=gent, status=Status.READY)
    with time_machine.travel(local("2026-11-24 12:00"), tick=False):
        assert visit_news.request_reviews() == 0
    assert reviews() == []


def test_review_requests_cost_a_bounded_number_of_queries_per_request(
    gent, django_assert_max_num_queries
):
    for hour in range(3):
        collected(gent, local(f"2026-11-24 0{hour + 7}:00"))
    with (
        time_machine.travel(local("2026-11-24 12:00"), tick=False),
        django_assert_max_num_queries(2 + 3 * 8),
    ):
        assert visit_news.request_reviews() == 3


def test_the_beat_schedule_asks_for_reviews(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["request-reviews"]
    assert entry["task"] == "notifications.request_reviews"
    from config.celery import app

    assert "notifications.request_reviews" in app.tasks
