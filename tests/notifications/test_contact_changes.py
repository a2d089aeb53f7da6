"""Whoever holds a link cannot make us message whom they like with what they like.

They can change the contact details and send the check-in again: the former e-mail
address and mobile number are told (as a bank does), with nothing the link's holder
typed; confirmations stop at a limit; and once the details changed, a confirmation
no longer repeats the customer's remarks.
"""

import re
import uuid

import pytest
from django.core import mail
from django.urls import reverse

from notifications import texts
from notifications.models import Message
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, OfferFactory
from workshop.models import CheckInItem

pytestmark = pytest.mark.django_db

Purpose = Message.Purpose
FREE_TEXT = "Win a car: call +44 20 7946 0000"


@pytest.fixture
def checkin(db):
    dealership = DealershipFactory(name="Garage Leie", country="BE", phone="+3292101010")
    customer = CustomerFactory(
        dealership=dealership,
        first_name="Jan",
        email="jan@example.com",
        phone="+32470123456",
        preferred_channel="sms",
        language="en",
    )
    return AppointmentFactory(dealership=dealership, customer=customer).checkin


def url(checkin, name: str) -> str:
    return reverse(f"portal:{name}", args=[checkin.token])


def change_contact(client, checkin, *, email="someone@elsewhere.example", phone="0499 00 00 00"):
    return client.post(
        url(checkin, "contact"), {"preferred_channel": "email", "phone": phone, "email": email}
    )


def add_remark(client, checkin, subject: str = FREE_TEXT) -> None:
    response = client.post(
        url(checkin, "remarks"),
        {"new-key": str(uuid.uuid4()), "new-subject": subject, "new-description": ""},
    )
    assert response.status_code == 302


def send_checkin(client, checkin) -> None:
    assert client.post(url(checkin, "review")).status_code == 302


def messages(purpose: str) -> list[Message]:
    return list(Message.objects.filter(purpose=purpose).order_by("pk"))


def test_the_former_address_and_number_are_told_of_a_change_and_nothing_else(
    client, checkin, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    add_remark(client, checkin)
    with django_capture_on_commit_callbacks(execute=True):
        response = change_contact(client, checkin, email="jan.new@elsewhere.example")
    assert response.status_code == 302

    notices = {m.channel: m for m in messages(Purpose.CONTACT_CHANGED)}
    assert {channel: m.recipient for channel, m in notices.items()} == {
        "email": "jan@example.com",
        "sms": "+32470123456",
    }
    assert {m.status for m in notices.values()} == {Message.Status.SENT}
    # Sent where they were written for, not to the new details.
    (sms,) = twilio.sends()
    assert sms["To"] == "+32470123456"
    (email,) = mail.outbox
    assert email.to == ["jan@example.com"]

    date = texts.short_date(checkin.appointment, "en")
    assert sms["Body"] == (
        f"Garage Leie: the mobile number for your appointment on {date} was changed. "
        "If this wasn't you, call us on +32 9 210 10 10."
    )
    assert "e-mail address for your appointment at Garage Leie" in email.body
    assert "+32 9 210 10 10" in email.body
    for text in (sms["Body"], email.body, email.alternatives[0][0], email.subject):
        assert "elsewhere" not in text, "not the new address"
        assert "0499" not in text, "not the new number"
        assert "+32499" not in text, "not the new number"
        assert "7946" not in text, "nothing the customer typed"
        assert checkin.token not in text, "no link"


def test_no_notice_when_nothing_was_changed_or_there_was_no_former_address(
    client, checkin, django_capture_on_commit_callbacks
):
    customer = checkin.appointment.customer
    customer.email = ""
    customer.save()
    with django_capture_on_commit_callbacks():
        change_contact(client, checkin, email="jan@example.com", phone="+32470123456")
    assert messages(Purpose.CONTACT_CHANGED) == [], "an address added is no address changed"


def test_notices_stop_at_the_limit_per_channel(
    client, checkin, settings, django_capture_on_commit_callbacks
):
    settings.CHECKIN_MAX_CONFIRMATIONS = 2
    with django_capture_on_commit_callbacks():
        for n in range(4):
            change_contact(client, checkin, phone=f"0499 00 00 0{n}", email="jan@example.com")
        # Changing the number over and over did not use up the e-mail's notice.
        change_contact(client, checkin, phone="0499 00 00 09", email="other@elsewhere.example")
    assert [(m.channel, m.recipient) for m in messages(Purpose.CONTACT_CHANGED)] == [
        ("sms", "+32470123456"),
        ("sms", "+32499000000"),
        ("email", "jan@example.com"),
    ]


def test_past_the_limit_answers_are_saved_but_no_more_confirmations_go_out(
    client, checkin, settings, django_capture_on_commit_callbacks
):
    settings.CHECKIN_MAX_CONFIRMATIONS = 2
    with django_capture_on_commit_callbacks():
        for n in range(4):
            add_remark(client, checkin, subject=f"Remark {n}")
            send_checkin(client, checkin)

    assert len(messages(Purpose.CONFIRMATION)) == 2
    sent = CheckInItem.objects.filter(kind="remark", state=CheckInItem.State.OPEN)
    assert sorted(sent.values_list("subject", flat=True)) == [f"Remark {n}" for n in range(4)]
    checkin.refresh_from_db()
    assert checkin.answered_at is not None


def test_a_confirmation_lists_the_remarks_while_the_contact_details_are_the_ones_we_had(
    client, checkin, django_capture_on_commit_callbacks
):
    checkin.appointment.customer.preferred_channel = "email"
    checkin.appointment.customer.save()
    add_remark(client, checkin, subject="Noise when braking")
    with django_capture_on_commit_callbacks():
        send_checkin(client, checkin)
    (confirmation,) = messages(Purpose.CONFIRMATION)
    assert "Noise when braking" in confirmation.body
    assert "Noise when braking" in confirmation.html_body


def test_after_a_contact_change_a_confirmation_counts_the_remarks_without_their_words(
    client, checkin, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    wash = OfferFactory(dealership=checkin.appointment.dealership, name="Car wash")
    client.post(url(checkin, "services"), {f"offer-{wash.pk}": "accept"})
    add_remark(client, checkin)
    add_remark(client, checkin, subject="Noise when braking")
    with django_capture_on_commit_callbacks(execute=True):
        change_contact(client, checkin, email="relay@elsewhere.example")
        send_checkin(client, checkin)

    (confirmation,) = messages(Purpose.CONFIRMATION)
    assert confirmation.recipient == "relay@elsewhere.example"
    (sent,) = [email for email in mail.outbox if email.to == ["relay@elsewhere.example"]]
    for text in (confirmation.body, sent.body, sent.alternatives[0][0], sent.subject):
        assert "7946" not in text
        assert "Noise when braking" not in text
    assert "You sent us 2 remarks; you can read them on your check-in page." in sent.body
    assert "Car wash" in sent.body, "the dealership's own words stay"
    assert re.search(r"You sent us 2 remarks", sent.alternatives[0][0])
