from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from notifications import gsm, texts
from notifications.admin import MessageTextForm
from notifications.compose import build_message, overrides_for
from notifications.invitations import queue_confirmation
from notifications.models import Message, MessageText
from notifications.transports import EmailTransport
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, OfferFactory
from workshop import checkin as flow

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "nl", "fr", "de"]
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notifications"
HOST_30 = "checkin.autogroepvlaanderen.be"


def long_names_appointment(language: str):
    dealership = DealershipFactory(name="Garage Vandenbroucke-Dewaele 1", language="nl")
    customer = CustomerFactory(
        dealership=dealership, first_name="Maximiliaan-Frederik", language=language
    )
    return AppointmentFactory(dealership=dealership, customer=customer)


@pytest.mark.parametrize("purpose", ["invitation", "reminder"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sms_fits_one_gsm7_segment_with_the_longest_names_and_link(settings, language, purpose):
    settings.SITE_URL = f"https://{HOST_30}"
    appointment = long_names_appointment(language)
    assert len(HOST_30) == 30
    assert len(appointment.dealership.name) == 30
    assert len(appointment.customer.first_name) == 20
    assert len(appointment.checkin.token) == 26

    text = texts.render(purpose, "sms", appointment).text

    assert appointment.checkin.link in text  # whole, not cut
    assert appointment.dealership.name in text
    assert gsm.is_gsm7(text), [c for c in text if not gsm.is_gsm7(c)]
    assert gsm.septets(text) <= 160, (gsm.septets(text), text)
    assert gsm.segments(text) == 1
    if purpose == "invitation":
        assert "Maximiliaan-Frederik" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_renders_in_every_language_without_template_leftovers(language):
    appointment = AppointmentFactory(customer__language=language)
    for purpose in ("invitation", "reminder"):
        email = texts.render(purpose, "email", appointment)
        sms = texts.render(purpose, "sms", appointment)
        for part in (email.subject, email.text, email.html, sms.text):
            assert part.strip()
            assert "{{" not in part
            assert "{%" not in part
        assert appointment.checkin.link in email.text
        assert f'href="{appointment.checkin.link}"' in email.html
        assert "\n" not in email.subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_contact_change_notice_fits_one_segment_and_repeats_nothing_typed(settings, language):
    """It goes to the former number: the dealership, the date and its phone number,
    nothing the customer typed and no link. Here with a 30-character name and a
    17-character phone number."""
    settings.SITE_URL = f"https://{HOST_30}"
    appointment = long_names_appointment(language)
    appointment.dealership.phone = "+33123456789"
    assert len(appointment.dealership.phone.as_international) == 17

    sms = texts.render("contact_changed", "sms", appointment).text
    email = texts.render("contact_changed", "email", appointment)

    assert gsm.is_gsm7(sms), gsm.unsendable(sms)
    assert gsm.segments(sms) == 1, (gsm.septets(sms), sms)
    for text in (sms, email.subject, email.text, email.html):
        assert text.strip()
        assert "{{" not in text
        assert "{%" not in text
        assert appointment.checkin.token not in text
        assert "+33 1 23 45 67 89" in text or text == email.subject
        assert appointment.dealership.name in text
    assert "\n" not in email.subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_confirmation_counts_remarks_it_does_not_name(language):
    appointment = AppointmentFactory(customer__language=language)
    confirmation = texts.Confirmation(remark_count=2)

    email = texts.render("confirmation", "email", appointment, confirmation=confirmation)

    assert " 2 " in email.text
    assert " 2 " in email.html
    assert "{{" not in email.text + email.html


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*/sms.*.txt")), ids=lambda p: p.name)
def test_sms_templates_are_written_in_gsm7(path):
    source = path.read_text()
    assert gsm.is_gsm7(source.replace("{%", "").replace("%}", "")), gsm.unsendable(source)
    assert not set(source) - gsm.BASIC - gsm.EXTENSION


def test_the_confirmation_sms_fits_one_segment_when_nothing_was_chosen(settings):
    settings.SITE_URL = f"https://{HOST_30}"
    for language in LANGUAGES:
        appointment = long_names_appointment(language)
        flow.submit_checkin(appointment.checkin)
        confirmation = texts.confirmation_for(appointment.checkin, language)
        text = texts.render("confirmation", "sms", appointment, confirmation=confirmation).text
        assert gsm.segments(text) == 1, text


def test_sms_text_loses_curly_quotes_and_no_break_spaces():
    dealership = DealershipFactory(name="Garage d\u2019Hondt\u00a0&\u00a0Zonen")
    customer = CustomerFactory(dealership=dealership, first_name="Fran\u00e7oise", language="fr")
    appointment = AppointmentFactory(dealership=dealership, customer=customer)

    text = texts.render("invitation", "sms", appointment).text

    assert "Garage d'Hondt & Zonen" in text
    assert "Francoise" in text  # ç has no GSM-7 code; the name stays readable
    assert "\u2019" not in text
    assert "\u00a0" not in text
    assert gsm.is_gsm7(text)


def test_gsm7_counts_extension_characters_twice_and_switches_to_ucs2_outside_it():
    assert gsm.septets("€[]") == 6
    assert gsm.segments("a" * 160) == 1
    assert gsm.segments("a" * 161) == 2
    assert gsm.segments("€" * 80) == 1
    assert gsm.segments("€" * 81) == 2
    assert gsm.segments("ê" + "a" * 69) == 1  # UCS-2: 70 a segment
    assert gsm.segments("ê" + "a" * 70) == 2
    assert not gsm.is_gsm7("ê")
    assert gsm.is_gsm7("àéèùìòÄÖÜäöüßÑñÉ")
    assert (
        gsm.to_gsm7("\u201cquoted\u201d \u2013 \u2018fine\u2019\u2026") == "\"quoted\" - 'fine'..."
    )
    assert gsm.unsendable("ok 🚗 ok") == ["🚗"]


def test_an_email_is_branded_and_comes_from_the_dealership(settings):
    settings.SITE_URL = "https://checkin.example.com"
    dealership = DealershipFactory(
        name="Autohuis Leiestreek", brand_colour="#0f5c8c", email="service@leiestreek.example"
    )
    dealership.logo.save("logo.png", ContentFile(b"\x89PNG fake"), save=True)
    appointment = AppointmentFactory(dealership=dealership, customer__language="en")
    message = build_message(
        appointment, "invitation", "email", now=appointment.created_at, overrides={}
    )
    message.save()

    EmailTransport().send(message)

    (email,) = mail.outbox
    assert email.from_email == "Autohuis Leiestreek <noreply@pitlane.localhost>"
    # Replies come back to us, to this appointment's own secret address.
    key = appointment.reply_address.key
    assert email.reply_to == [f"reply+{key}@pitlane.localhost"]
    assert email.to == [appointment.customer.email]
    assert email.subject.startswith("Check in online for your visit on ")
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "background:#0f5c8c" in html
    logo = f"https://checkin.example.com/c/logo/{dealership.slug}/{dealership.logo_file_name}"
    assert f'src="{logo}"' in html
    assert appointment.checkin.link in email.body
    assert email.extra_headers["Message-ID"] == f"<{message.callback_key}@pitlane>"


def test_the_button_text_colour_reads_on_the_brand_colour():
    assert texts.contrast_ink("#0f5c8c") == "#ffffff"
    assert texts.contrast_ink("#fde047") == "#000000"


def test_the_confirmation_lists_what_was_accepted_with_prices_incl_vat(eager_tasks, settings):
    dealership = DealershipFactory(country="BE", currency="EUR")
    customer = CustomerFactory(dealership=dealership, language="nl", preferred_channel="email")
    appointment = AppointmentFactory(dealership=dealership, customer=customer)
    wash = OfferFactory(dealership=dealership, name="Carwash", price=Decimal("19.95"))
    wipers = OfferFactory(dealership=dealership, name="Ruitenwissers", price=Decimal("34.50"))
    call = OfferFactory(dealership=dealership, name="Airco-check", price=Decimal("49.00"))
    checkin = appointment.checkin
    flow.set_offer_choice(checkin, wash, flow.OfferChoice.ACCEPT)
    flow.set_offer_choice(checkin, wipers, flow.OfferChoice.ACCEPT)
    flow.set_offer_choice(checkin, call, flow.OfferChoice.CONTACT)
    flow.submit_checkin(checkin)

    message = queue_confirmation(checkin)

    assert message is not None
    assert message.channel == "email"
    assert message.language == "nl"
    assert "Carwash: € 19,95" in message.body.replace("\u00a0", " ")
    assert "Ruitenwissers: € 34,50" in message.body.replace("\u00a0", " ")
    assert "Totaal: € 54,45" in message.body.replace("\u00a0", " ")
    assert "Airco-check" in message.body
    assert "€" in message.html_body
    assert "54,45" in message.html_body
    # Asked again without a new submission (a double tap): nothing more.
    assert queue_confirmation(checkin) is None
    assert Message.objects.filter(purpose="confirmation").count() == 1


def test_the_confirmation_names_the_offers_as_the_customer_read_them():
    dealership = DealershipFactory(language="nl")
    customer = CustomerFactory(dealership=dealership, language="fr", preferred_channel="email")
    appointment = AppointmentFactory(dealership=dealership, customer=customer)
    wash = OfferFactory(dealership=dealership, name="Carwash", price=Decimal("19.95"))
    wash.translations.create(language="fr", name="Lavage extérieur")
    tyres = OfferFactory(dealership=dealership, name="Winterbanden", price=Decimal("69.00"))
    flow.set_offer_choice(appointment.checkin, wash, flow.OfferChoice.ACCEPT)
    flow.set_offer_choice(appointment.checkin, tyres, flow.OfferChoice.CONTACT)
    flow.submit_checkin(appointment.checkin)

    confirmation = texts.confirmation_for(appointment.checkin, "fr")

    assert [name for name, _price in confirmation.accepted] == ["Lavage extérieur"]
    assert confirmation.contact == ["Winterbanden"]  # no French name: the one they saw


def test_the_confirmation_sms_is_plain_gsm7():
    dealership = DealershipFactory(country="FR")
    customer = CustomerFactory(dealership=dealership, language="fr")
    appointment = AppointmentFactory(dealership=dealership, customer=customer)
    offer = OfferFactory(dealership=dealership, name="Lavage extérieur", price=Decimal("19.95"))
    flow.set_offer_choice(appointment.checkin, offer, flow.OfferChoice.ACCEPT)
    flow.submit_checkin(appointment.checkin)

    message = queue_confirmation(appointment.checkin)

    assert message is not None
    assert message.channel == "sms"
    assert "Lavage extérieur 19,95 €" in message.body
    assert gsm.is_gsm7(message.body)


# --- A dealership's own texts --------------------------------------------------------


def own_text(**fields) -> MessageText:
    defaults = {
        "dealership": DealershipFactory(),
        "purpose": "invitation",
        "channel": "sms",
        "language": "nl",
        "subject": "",
        "body": "{dealership}: dag {first_name}, check in: {link}",
    }
    return MessageText(**{**defaults, **fields})


def check(text: MessageText) -> None:
    """Validates the text as the admin does when a manager saves it."""
    form = MessageTextForm(
        data={
            "dealership": text.dealership.pk,
            **{f: getattr(text, f) for f in ("purpose", "channel", "language", "subject", "body")},
        },
        instance=text,
    )
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())


def test_an_unknown_placeholder_is_refused_naming_it():
    text = own_text(body="Dag {voornaam}, check in: {link}")
    with pytest.raises(ValidationError) as refused:
        check(text)
    errors = refused.value.message_dict["body"]
    assert "Unknown placeholder {voornaam}" in errors[0]
    assert "{first_name}" in errors[0]  # and says what is allowed


def test_an_invitation_without_its_link_is_refused():
    with pytest.raises(ValidationError, match=r"must contain \{link\}"):
        check(own_text(body="Dag {first_name}, tot morgen."))


def test_an_sms_that_would_not_fit_one_segment_is_refused():
    long = "{dealership}: beste {customer_name}, uw wagen wordt verwacht. Check in: {link}"
    with pytest.raises(ValidationError, match="Too long for one SMS"):
        check(own_text(body=long))


def test_an_sms_with_characters_gsm7_cannot_carry_is_refused():
    with pytest.raises(ValidationError, match="cannot carry"):
        check(own_text(body="🚗 {link}"))


def test_an_email_text_needs_a_subject_and_checks_the_subject_too():
    with pytest.raises(ValidationError) as refused:
        check(own_text(channel="email", subject="Uw {afspraak}", body="{link}"))
    assert "Unknown placeholder {afspraak}" in refused.value.message_dict["subject"][0]
    with pytest.raises(ValidationError, match="needs a subject"):
        check(own_text(channel="email", subject="", body="{link}"))


def test_a_valid_own_text_is_used_instead_of_the_built_in_one():
    text = own_text(body="{dealership}: hallo {first_name}! {date} {time} {link}")
    check(text)
    text.save()
    appointment = AppointmentFactory(dealership=text.dealership, customer__language="nl")

    message = build_message(
        appointment,
        "invitation",
        "sms",
        now=appointment.created_at,
        overrides=overrides_for([text.dealership_id]),
    )

    assert message.body.startswith(f"{text.dealership.name}: hallo Jan! ")
    assert message.body.endswith(appointment.checkin.link)


def test_an_own_email_text_gets_the_branded_layout_with_clickable_links():
    text = own_text(channel="email", subject="Uw afspraak op {date}", body="Hallo!\n\n{link}")
    text.save()
    appointment = AppointmentFactory(dealership=text.dealership, customer__language="nl")

    rendered = texts.render("invitation", "email", appointment, override=text)

    assert rendered.subject.startswith("Uw afspraak op ")
    assert f'<a href="{appointment.checkin.link}"' in rendered.html
    assert appointment.dealership.brand_colour in rendered.html


@pytest.mark.parametrize("purpose", ["confirm_request", "ack_confirmed", "ack_declined"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_conversations_texts_fit_one_segment_in_every_language(settings, language, purpose):
    settings.SITE_URL = f"https://{HOST_30}"
    appointment = long_names_appointment(language)
    appointment.dealership.booking_url = "https://www.garage-vandenbroucke-dewaele.be/afspraak"

    sms = texts.render(purpose, "sms", appointment).text
    email = texts.render(purpose, "email", appointment)

    assert gsm.is_gsm7(sms), [c for c in sms if not gsm.is_gsm7(c)]
    assert gsm.segments(sms) == 1, (gsm.septets(sms), sms)
    assert appointment.dealership.name in sms
    for part in (email.subject, email.text, email.html, sms):
        assert part.strip()
        assert "{{" not in part
        assert "{%" not in part
    if purpose == "ack_declined":
        assert "+32 9 210 10 10" in sms  # how to rebook, even where the address did not fit
        assert appointment.dealership.booking_url in email.text


def test_a_short_booking_address_fits_in_the_declines_sms():
    appointment = AppointmentFactory(dealership__booking_url="https://g.be/b")
    sms = texts.render("ack_declined", "sms", appointment).text
    assert "https://g.be/b" in sms
    assert gsm.segments(sms) == 1


def test_the_demos_quick_replies_pass_the_checks_managers_get():
    from workshop.demo import QUICK_REPLIES

    for language, replies in QUICK_REPLIES.items():
        for _name, body in replies:
            errors = texts.check_override(
                purpose="reply", channel="sms", language=language, subject="", body=body
            )
            assert errors == {}, (body, errors)
