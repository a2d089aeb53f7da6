"""Each step's form, as the customer posts it without JavaScript."""

import re
from decimal import Decimal

import pytest
from django.utils import translation
from icalendar import Calendar

from notifications.models import Message
from portal.theme import PAGE_BACKGROUND, contrast, theme_css
from tests.factories import OfferFactory, RemarkFactory, WorkItemFactory
from tests.portal.conftest import nl, url
from workshop.models import (
    Appointment,
    AppointmentEvent,
    CheckInItem,
    OfferTranslation,
    OnlineCheckIn,
)

pytestmark = pytest.mark.django_db

Kind, State = CheckInItem.Kind, CheckInItem.State


def body(response) -> str:
    return response.content.decode()


# --- welcome, details, planned work -------------------------------------------------


def test_welcome_greets_by_name_with_the_local_time_address_and_map(client, checkin):
    appointment = checkin.appointment
    response = client.get(url(checkin, "welcome"))
    html = body(response)
    assert "Hallo Jan" in html or "Hello Jan" in html
    assert appointment.local_start.strftime("%H:%M") in html
    assert "Kortrijksesteenweg 1" in html
    assert "https://www.google.com/maps/search/?api=1&amp;query=Garage%20Leie" in html
    assert url(checkin, "calendar") in html


def test_times_are_shown_in_the_dealerships_time_zone(client, checkin, settings):
    settings.TIME_ZONE = "UTC"  # the server's zone plays no part
    from datetime import datetime
    from zoneinfo import ZoneInfo

    start = datetime(2031, 3, 4, 8, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Brussels
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=start, ends_at=start.replace(hour=10)
    )
    html = body(client.get(url(checkin, "welcome")))
    assert "09:00" in html
    assert "11:00" in html
    # "You sent your check-in (1 March, 08:17)": also local time.
    client.post(url(checkin, "review"))
    sent = datetime(2031, 3, 1, 7, 17, tzinfo=ZoneInfo("UTC"))
    OnlineCheckIn.objects.filter(pk=checkin.pk).update(last_answered_at=sent)
    html = body(client.get(url(checkin, "welcome")))
    assert "08:17" in html
    assert "07:17" not in html


def test_details_show_the_appointment_the_car_and_the_customer(client, checkin):
    vehicle = checkin.appointment.vehicle
    html = body(client.get(url(checkin, "details")))
    for text in (
        vehicle.plate,
        "Volkswagen Golf",
        checkin.appointment.external_ref,
        "jan@example.com",
    ):
        assert text in html
    assert "+32 470 12 34 56" in html


def test_planned_work_shows_prices_with_vat_and_the_total_in_the_customers_format(client, checkin):
    WorkItemFactory(
        appointment=checkin.appointment,
        description="Grote beurt",
        notes="Volgens fabrieksvoorschrift",
        price=Decimal("389.00"),
    )
    WorkItemFactory(
        appointment=checkin.appointment, description="Remblokken", price=Decimal("1245.50")
    )
    html = body(client.get(url(checkin, "work")))
    assert "Grote beurt" in html
    assert "Volgens fabrieksvoorschrift" in html
    # Dutch in Belgium: the euro sign first, a dot for thousands, a comma for cents.
    assert "€\xa0389,00" in html
    assert "€\xa01.634,50" in html


# --- contact -----------------------------------------------------------------------


def test_contact_changes_are_saved_in_e164_and_on_the_timeline(client, checkin):
    response = client.post(
        url(checkin, "contact"),
        {"preferred_channel": "email", "phone": "0478 11 22 33", "email": "jan.nieuw@example.com"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(checkin, "details")
    customer = checkin.appointment.customer
    customer.refresh_from_db()
    assert str(customer.phone) == "+32478112233"  # a national number, read as Belgian
    assert customer.preferred_channel == "email"
    assert customer.email == "jan.nieuw@example.com"
    changes = {
        e.field: (e.old_value, e.new_value)
        for e in AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CONTACT_CHANGED)
    }
    assert changes == {
        "preferred_channel": ("sms", "email"),
        "phone": ("+32470123456", "+32478112233"),
        "email": ("jan@example.com", "jan.nieuw@example.com"),
    }


def test_an_invalid_phone_number_gets_a_message_and_keeps_the_other_values(client, checkin):
    response = client.post(
        url(checkin, "contact"),
        {"preferred_channel": "email", "phone": "12345", "email": "typed.new@example.com"},
    )
    assert response.status_code == 400
    html = body(response)
    assert 'class="field-error" id="id_phone_error"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="typed.new@example.com"' in html
    assert 'value="12345"' in html
    assert re.search(
        r'<input type="radio" name="preferred_channel" value="email"[^>]*checked', html
    )
    customer = checkin.appointment.customer
    customer.refresh_from_db()
    assert customer.email == "jan@example.com"  # nothing saved until the form is right
    assert not AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CONTACT_CHANGED).exists()


def test_text_messages_need_a_mobile_number(client, checkin):
    response = client.post(
        url(checkin, "contact"), {"preferred_channel": "sms", "phone": "", "email": "a@example.com"}
    )
    assert response.status_code == 400
    assert nl("Enter your mobile number to get text messages.") in body(response)
    response = client.post(
        url(checkin, "contact"),
        {"preferred_channel": "sms", "phone": "09 210 10 10", "email": "a@example.com"},
    )
    assert nl("This looks like a landline, which cannot receive text messages.") in body(response)


def test_emails_need_an_address(client, checkin):
    response = client.post(
        url(checkin, "contact"), {"preferred_channel": "email", "phone": "", "email": ""}
    )
    assert response.status_code == 400
    assert nl("Enter your e-mail address to get e-mails.") in body(response)


def test_saving_unchanged_contact_details_adds_nothing_to_the_timeline(client, checkin):
    client.post(
        url(checkin, "contact"),
        {"preferred_channel": "sms", "phone": "+32 470 12 34 56", "email": "jan@example.com"},
    )
    assert not AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CONTACT_CHANGED).exists()


# --- services ------------------------------------------------------------------------


@pytest.fixture
def offers(checkin):
    dealership = checkin.appointment.dealership
    wash = OfferFactory(dealership=dealership, name="Carwash", price=Decimal("19.95"), position=1)
    OfferTranslation.objects.create(offer=wash, language="fr", name="Lavage extérieur")
    tyres = OfferFactory(
        dealership=dealership, name="Winterbanden", price=Decimal("69.00"), position=2
    )
    wipers = OfferFactory(dealership=dealership, name="Wissers", price=Decimal("39.50"), position=3)
    OfferFactory(dealership=dealership, name="Niet meer aangeboden", active=False)
    return wash, tyres, wipers


def answers(offers, *choices):
    return {f"offer-{offer.pk}": choice for offer, choice in zip(offers, choices, strict=True)}


def test_services_list_the_active_offers_with_prices(client, checkin, offers):
    html = body(client.get(url(checkin, "services")))
    assert "Carwash" in html
    assert "€\xa019,95" in html
    assert "Niet meer aangeboden" not in html


def test_answers_to_offers_are_drafts_until_sent(client, checkin, offers):
    response = client.post(url(checkin, "services"), answers(offers, "accept", "contact", "none"))
    assert response["Location"] == url(checkin, "remarks")
    items = CheckInItem.objects.order_by("offer__position")
    assert [(i.kind, i.state) for i in items] == [
        (Kind.OFFER_ACCEPTED, State.DRAFT),
        (Kind.OFFER_CONTACT, State.DRAFT),
    ]
    assert items[0].offer_price == Decimal("19.95")
    html = body(client.get(url(checkin, "services")))
    assert html.count(nl("Not sent yet", "extra service answer")) == 2
    assert nl("You have changes that are not sent yet.") in html


def test_sending_opens_the_items_and_pins_the_appointment_once_however_often_posted(
    client, checkin, offers
):
    client.post(url(checkin, "services"), answers(offers, "accept", "contact", "none"))
    client.post(
        url(checkin, "remarks"),
        {"new-subject": "Piepende remmen", "new-description": "'s ochtends"},
    )
    first = client.post(url(checkin, "review"))
    second = client.post(url(checkin, "review"))  # a double tap
    assert first["Location"] == second["Location"] == url(checkin, "done")
    assert CheckInItem.objects.count() == 3
    assert set(CheckInItem.objects.values_list("state", flat=True)) == {State.OPEN}
    assert checkin.appointment.is_pinned
    assert AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.CHECKIN_ANSWERED).count() == 1
    html = body(client.get(url(checkin, "done")))
    for sent in ("Carwash", "Winterbanden", "Piepende remmen"):
        assert sent in html
    assert nl("Changed, not sent yet", "extra service answer") not in html
    assert nl("Not sent yet", "extra service answer") not in html
    assert nl("Not sent yet", "remark") not in html


def test_changing_an_answer_after_sending_shows_it_unsent_until_sent_again(client, checkin, offers):
    wash, tyres, _wipers = offers
    client.post(url(checkin, "services"), answers(offers, "accept", "contact", "none"))
    client.post(url(checkin, "review"))
    # Back later: no car wash after all, and yes to the tyres.
    client.post(url(checkin, "services"), answers(offers, "none", "accept", "none"))
    review = body(client.get(url(checkin, "review")))
    assert nl("Send changes") in review
    assert review.count(nl("Changed, not sent yet", "extra service answer")) == 2
    assert nl("No longer wanted") in review
    # The confirmation keeps listing what was sent, and says there is more to send.
    done = body(client.get(url(checkin, "done")))
    assert nl("You have changes that are not sent yet.") in done
    assert "Carwash" in done
    assert nl("No longer wanted") not in done
    # Staff still have the sent answers until the customer sends again.
    assert set(CheckInItem.objects.open().values_list("kind", "offer_id")) == {
        (Kind.OFFER_ACCEPTED, wash.pk),
        (Kind.OFFER_CONTACT, tyres.pk),
    }
    client.post(url(checkin, "review"))
    client.post(url(checkin, "review"))
    assert set(CheckInItem.objects.open().values_list("kind", "offer_id")) == {
        (Kind.OFFER_ACCEPTED, tyres.pk)
    }
    assert CheckInItem.objects.filter(state=State.WITHDRAWN).count() == 2
    review = body(client.get(url(checkin, "review")))
    assert nl("Everything is sent. Change an answer and you can send again.") in review
    assert nl("Send changes") not in review


def test_changing_back_to_the_sent_answer_leaves_nothing_to_send(client, checkin, offers):
    client.post(url(checkin, "services"), answers(offers, "accept", "none", "none"))
    client.post(url(checkin, "review"))
    client.post(url(checkin, "services"), answers(offers, "contact", "none", "none"))
    client.post(url(checkin, "services"), answers(offers, "accept", "none", "none"))
    assert not CheckInItem.objects.filter(state=State.DRAFT).exists()
    assert nl("Everything is sent. Change an answer and you can send again.") in body(
        client.get(url(checkin, "review"))
    )


def test_an_unknown_answer_changes_nothing(client, checkin, offers):
    response = client.post(url(checkin, "services"), answers(offers, "accept", "maybe", "none"))
    assert response.status_code == 200
    assert not CheckInItem.objects.exists()


def test_review_totals_planned_work_and_accepted_services(client, checkin, offers):
    WorkItemFactory(appointment=checkin.appointment, price=Decimal("100.00"))
    client.post(url(checkin, "services"), answers(offers, "accept", "contact", "accept"))
    html = body(client.get(url(checkin, "review")))
    assert "€\xa059,45" in html  # 19.95 + 39.50; asking about the tyres costs nothing yet
    assert "€\xa0159,45" in html


def test_sending_with_nothing_to_add_still_tells_the_workshop(client, checkin):
    response = client.post(url(checkin, "review"))
    assert response["Location"] == url(checkin, "done")
    checkin.refresh_from_db()
    assert checkin.is_answered
    assert not checkin.appointment.is_pinned
    assert client.get(url(checkin, "done")).status_code == 200


def test_the_done_page_waits_for_a_first_send(client, checkin):
    response = client.get(url(checkin, "done"))
    assert response.status_code == 302
    assert response["Location"] == url(checkin, "review")


# --- remarks -----------------------------------------------------------------------------


def test_a_remark_is_added_as_a_draft_card(client, checkin):
    response = client.post(
        url(checkin, "remarks"), {"new-subject": "Lampje motorstoring", "new-description": "Oranje"}
    )
    remark = CheckInItem.objects.get()
    assert (remark.kind, remark.state, remark.subject) == (
        Kind.REMARK,
        State.DRAFT,
        "Lampje motorstoring",
    )
    assert response["Location"] == url(checkin, "remarks") + f"#remark-{remark.pk}"
    html = body(client.get(url(checkin, "remarks")))
    assert f'id="remark-{remark.pk}"' in html
    assert nl("Not sent yet", "remark") in html
    assert url(checkin, "remark_edit", remark.pk) in html


def test_a_remark_needs_a_subject_and_keeps_the_description(client, checkin):
    response = client.post(
        url(checkin, "remarks"), {"new-subject": "  ", "new-description": "Het rammelt"}
    )
    assert response.status_code == 400
    assert 'id="id_new-subject_error"' in body(response)
    assert "Het rammelt" in body(response)
    assert not CheckInItem.objects.exists()


def test_a_draft_remark_can_be_edited_and_deleted(client, checkin):
    client.post(url(checkin, "remarks"), {"new-subject": "Kras", "new-description": ""})
    remark = CheckInItem.objects.get()
    assert client.get(url(checkin, "remark_edit", remark.pk)).status_code == 200
    client.post(
        url(checkin, "remark_edit", remark.pk),
        {"subject": "Kras op bumper", "description": "Achteraan links"},
    )
    remark.refresh_from_db()
    assert (remark.subject, remark.description) == ("Kras op bumper", "Achteraan links")
    client.post(url(checkin, "remark_delete", remark.pk))
    assert not CheckInItem.objects.exists()


def test_a_sent_remark_stays_as_staff_received_it(client, checkin):
    sent = RemarkFactory(checkin=checkin, subject="Piep")
    assert client.get(url(checkin, "remark_edit", sent.pk)).status_code == 404
    assert client.post(url(checkin, "remark_delete", sent.pk)).status_code == 404
    sent.refresh_from_db()
    assert sent.subject == "Piep"
    html = body(client.get(url(checkin, "remarks")))
    assert "Piep" in html
    assert url(checkin, "remark_edit", sent.pk) not in html


def test_another_checkins_remark_cannot_be_touched(client, checkin):
    other = RemarkFactory(state=State.DRAFT)
    assert client.post(url(checkin, "remark_delete", other.pk)).status_code == 404
    assert CheckInItem.objects.filter(pk=other.pk).exists()


def test_a_remark_added_after_sending_is_sent_with_the_next_send(client, checkin):
    client.post(url(checkin, "review"))
    client.post(url(checkin, "remarks"), {"new-subject": "Nog iets", "new-description": ""})
    assert nl("Send changes") in body(client.get(url(checkin, "review")))
    client.post(url(checkin, "review"))
    assert CheckInItem.objects.get().state == State.OPEN


# --- language ------------------------------------------------------------------------------


def test_the_page_speaks_the_customers_language_by_default(client, checkin):
    response = client.get(url(checkin, "welcome"), HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="nl">' in body(response)


def test_the_language_switch_sticks_for_this_link(client, checkin, offers):
    response = client.post(
        url(checkin, "language"), {"language": "fr", "next": url(checkin, "services")}
    )
    assert response.status_code == 302
    assert response["Location"] == url(checkin, "services")
    html = body(client.get(url(checkin, "services")))
    assert '<html lang="fr">' in html
    assert "Lavage extérieur" in html  # the offer's French name
    assert "19,95\u202f€" in html or "19,95\xa0€" in html
    assert '<html lang="fr">' in body(client.get(url(checkin, "details")))


def test_the_language_switch_ignores_unknown_languages_and_foreign_targets(client, checkin):
    response = client.post(
        url(checkin, "language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == url(checkin, "welcome")
    assert '<html lang="nl">' in body(client.get(url(checkin, "welcome")))


def test_the_language_menu_works_without_javascript(client, checkin):
    html = body(client.get(url(checkin, "work")))
    assert f'action="{url(checkin, "language")}"' in html
    for code in ("en", "nl", "fr", "de"):
        assert f'name="language" value="{code}"' in html


# --- calendar and theme ---------------------------------------------------------------------


def test_the_calendar_file_is_valid_icalendar_in_the_dealerships_time_zone(client, checkin):
    appointment = checkin.appointment
    response = client.get(url(checkin, "calendar"))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert event["DTSTART"].dt == appointment.starts_at.replace(microsecond=0)
    assert str(event["DTSTART"].dt.tzinfo) == "Europe/Brussels"
    assert event["DTEND"].dt == appointment.ends_at.replace(microsecond=0)
    assert "Kortrijksesteenweg 1" in str(event["LOCATION"])
    assert appointment.vehicle.plate in str(event["SUMMARY"])
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Brussels"]
    assert checkin.token not in response.content.decode()


@pytest.mark.parametrize("colour", ["#0f5c8c", "#fde047", "#ffffff", "#9a3412", "#000000"])
def test_any_brand_colour_keeps_readable_text(colour):
    css = theme_css(colour)
    values = dict(part.split(":") for part in css.strip()[6:-1].split(";"))
    assert contrast(values["--brand"], values["--brand-ink"]) >= 4.5
    assert contrast(values["--brand-text"], PAGE_BACKGROUND) >= 4.5
    assert contrast(values["--brand-text"], "#ffffff") >= 4.5


def test_the_theme_stylesheet_is_cached_for_good_and_the_page_links_it(client, checkin):
    response = client.get("/c/theme/0f5c8c.css")
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]
    assert "--brand:#0f5c8c" in body(response)
    html = body(client.get(url(checkin, "welcome")))
    assert 'href="/c/theme/1d4ed8.css"' in html
    assert "style=" not in html


def test_pages_in_another_language_use_that_languages_money_format(checkin):
    from django.template import Context, Template

    with translation.override("de"):
        rendered = Template("{% load money %}{{ p|money:d }}").render(
            Context({"p": Decimal("1234.5"), "d": checkin.appointment.dealership})
        )
    assert rendered == "1.234,50\xa0€"


def test_with_htmx_a_changed_offer_answer_is_saved_at_once_and_its_card_comes_back(
    client, checkin, offers
):
    wash, _tyres, _wipers = offers
    response = client.post(
        url(checkin, "services"),
        {**answers(offers, "accept", "none", "none"), "autosave": str(wash.pk)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = body(response)
    assert html.lstrip().startswith(f'<fieldset class="card offer" id="offer-{wash.pk}"')
    assert nl("Not sent yet", "extra service answer") in html
    assert re.search(r'value="accept"[^>]*checked', html)
    assert "<html" not in html
    item = CheckInItem.objects.get()
    assert (item.offer, item.kind, item.state) == (wash, Kind.OFFER_ACCEPTED, State.DRAFT)


def test_sending_queues_one_confirmation_in_the_customers_language(
    client, checkin, offers, django_capture_on_commit_callbacks
):
    client.post(url(checkin, "services"), answers(offers, "accept", "none", "none"))
    with django_capture_on_commit_callbacks():
        client.post(url(checkin, "review"))
        client.post(url(checkin, "review"))  # a double tap
    [confirmation] = Message.objects.filter(purpose=Message.Purpose.CONFIRMATION)
    assert confirmation.channel == "sms"
    assert confirmation.language == "nl"
    assert "Carwash" in confirmation.body

    # A changed answer sent again gets a confirmation of its own.
    client.post(url(checkin, "services"), answers(offers, "accept", "accept", "none"))
    with django_capture_on_commit_callbacks():
        client.post(url(checkin, "review"))
    assert Message.objects.filter(purpose=Message.Purpose.CONFIRMATION).count() == 2
