"""The Twilio transport against a local server speaking Twilio's format, and the
signed webhooks Twilio calls back."""

import base64
import socket
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from notifications.compose import build_message
from notifications.models import Message
from notifications.transports import (
    DeliveryUnknown,
    Found,
    TransportError,
    TwilioTransport,
    twilio_signature,
    twilio_signature_valid,
)
from tests.factories import AppointmentFactory, CustomerFactory
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from workshop.models import AppointmentEvent, Customer, OnlineCheckIn

pytestmark = pytest.mark.django_db


def queued_sms(appointment=None, purpose="invitation") -> Message:
    appointment = appointment or AppointmentFactory()
    message = build_message(appointment, purpose, "sms", now=timezone.now(), overrides={})
    message.save()
    return message


# --- Sending -----------------------------------------------------------------------


def test_a_message_is_posted_to_twilio_as_its_api_documents(twilio, settings):
    settings.SITE_URL = "https://checkin.example.com"
    message = queued_sms()

    sent = TwilioTransport().send(message)

    (request,) = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    user, token = (
        base64.b64decode(request["headers"]["Authorization"].split()[1]).decode().split(":")
    )
    assert (user, token) == (ACCOUNT_SID, AUTH_TOKEN)
    assert request["form"] == {
        "To": "+32470123456",
        "From": FROM_NUMBER,
        "Body": message.body,
        "StatusCallback": (
            f"https://checkin.example.com/notifications/twilio/status/{message.callback_key}/"
        ),
    }
    assert sent.provider_id.startswith("SM")
    assert len(sent.provider_id) == 34


def test_a_messaging_service_replaces_the_from_number(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    TwilioTransport().send(queued_sms())
    (form,) = twilio.sends()
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),  # invalid 'To' number
        (400, 21610, True),  # the recipient replied STOP
        (400, 21614, True),  # not a mobile number
        (429, 20429, False),  # too many requests
        (500, 20500, False),  # Twilio's own trouble
        (503, 20503, False),
        (401, 20003, False),  # our credentials: fixable, not the customer's fault
    ],
)
def test_twilio_errors_tell_a_bad_number_from_an_outage(twilio, status, code, permanent):
    twilio.answer(*twilio.error(status, code, "Something about the request"))
    with pytest.raises(TransportError) as raised:
        TwilioTransport().send(queued_sms())
    assert raised.value.permanent is permanent
    assert raised.value.code == str(code)
    assert f"Twilio {status} error {code}: Something about the request" == str(raised.value)


def test_an_unreachable_twilio_is_a_passing_failure(settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.TWILIO_API_URL = f"http://127.0.0.1:{port}"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    with pytest.raises(TransportError) as raised:
        TwilioTransport().send(queued_sms())
    assert not raised.value.permanent
    assert not isinstance(raised.value, DeliveryUnknown)


def test_no_answer_after_sending_is_not_retried_because_it_may_have_gone_out(twilio, settings):
    settings.TWILIO_READ_TIMEOUT_SECONDS = 0.5
    twilio.hold()
    with pytest.raises(DeliveryUnknown):
        TwilioTransport().send(queued_sms())
    assert len(twilio.requests) == 1


def test_delivery_unknown_leaves_the_message_sending_until_the_sweep_asks(twilio, settings):
    settings.TWILIO_READ_TIMEOUT_SECONDS = 0.5
    twilio.hold()
    message = queued_sms()
    assert delivery.send_message(message.pk) is None
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING
    assert delivery.send_message(message.pk) is None  # a redelivered task: not again
    assert len(twilio.requests) == 1


def test_a_hanging_twilio_holds_a_send_for_the_read_timeout_only(twilio, settings):
    assert (settings.TWILIO_CONNECT_TIMEOUT_SECONDS, settings.TWILIO_READ_TIMEOUT_SECONDS) == (
        3,
        10,
    )
    assert TwilioTransport().timeout == (3, 10)


# --- Looking up a message whose send had no answer ------------------------------------


def test_twilio_lists_a_recipients_messages_newest_first_as_documented(twilio):
    first, second = queued_sms(), queued_sms()
    transport = TwilioTransport()
    transport.send(first)
    transport.send(second)
    other = CustomerFactory(phone="+32470999888")
    transport.send(queued_sms(AppointmentFactory(customer=other)))

    response = requests.get(
        transport.endpoint,
        params={"To": first.recipient, "PageSize": "1"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    page = response.json()
    assert response.status_code == 200
    assert [m["to"] for m in page["messages"]] == [first.recipient]
    assert page["messages"][0]["sid"] == twilio.messages[1]["sid"]  # the newest
    assert page["page_size"] == 1
    assert page["next_page_uri"].startswith(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?To=%2B"
    )


def test_a_message_twilio_has_is_found_by_recipient_text_and_time(twilio):
    message = queued_sms()
    TwilioTransport().send(message)
    message.attempted_at = timezone.now()
    (at_twilio,) = twilio.messages

    assert TwilioTransport().find(message) == [Found(at_twilio["sid"], "queued")]


def test_a_message_twilio_never_got_is_not_found(twilio):
    message = queued_sms()
    message.attempted_at = timezone.now()
    TwilioTransport().send(queued_sms(purpose="reminder"))  # other words, same number

    assert TwilioTransport().find(message) == []


def test_messages_older_than_the_attempt_are_not_taken_for_it(twilio):
    message = queued_sms()
    TwilioTransport().send(message)
    message.attempted_at = timezone.now() + TwilioTransport.CLOCK_SKEW + timedelta(minutes=1)

    assert TwilioTransport().find(message) == []


def test_a_lookup_twilio_does_not_answer_is_an_error_not_a_no(twilio, settings):
    settings.TWILIO_READ_TIMEOUT_SECONDS = 0.5
    message = queued_sms()
    message.attempted_at = timezone.now()
    twilio.hold_lookups()

    with pytest.raises(TransportError, match="Twilio did not answer a lookup"):
        TwilioTransport().find(message)


# --- Signatures --------------------------------------------------------------------

TWILIO_DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def test_the_signature_matches_twilios_documented_examples():
    # Twilio's security documentation and its helper libraries' tests, auth token 12345.
    assert twilio_signature("12345", TWILIO_DOC_URL, TWILIO_DOC_PARAMS) == (
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    python_helper_params = {
        **TWILIO_DOC_PARAMS,
        "From": "+14158675309",
        "Caller": "+14158675309",
    }
    assert twilio_signature("12345", TWILIO_DOC_URL, python_helper_params) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    repeated = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]}
    assert twilio_signature("12345", TWILIO_DOC_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_a_signature_is_accepted_with_or_without_the_default_port():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signed_with_port = "kvajT1Ptam85bY51eRf/AJRuM3w="  # Twilio's helper test vector
    params = {**TWILIO_DOC_PARAMS, "From": "+14158675309", "Caller": "+14158675309"}
    assert twilio_signature("12345", with_port, params) == signed_with_port
    assert twilio_signature_valid("12345", TWILIO_DOC_URL, params, signed_with_port)
    assert twilio_signature_valid("12345", with_port, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_a_wrong_or_tampered_signature_is_refused():
    good = twilio_signature("12345", TWILIO_DOC_URL, TWILIO_DOC_PARAMS)
    assert twilio_signature_valid("12345", TWILIO_DOC_URL, TWILIO_DOC_PARAMS, good)
    assert not twilio_signature_valid("54321", TWILIO_DOC_URL, TWILIO_DOC_PARAMS, good)
    tampered = {**TWILIO_DOC_PARAMS, "Digits": "9999"}
    assert not twilio_signature_valid("12345", TWILIO_DOC_URL, tampered, good)
    assert not twilio_signature_valid("12345", TWILIO_DOC_URL + "&x=1", TWILIO_DOC_PARAMS, good)
    assert not twilio_signature_valid("12345", TWILIO_DOC_URL, TWILIO_DOC_PARAMS, "")


# --- Webhooks ----------------------------------------------------------------------


def post_signed(client, settings, path, data, *, token=AUTH_TOKEN, tamper=None):
    signature = twilio_signature(token, settings.SITE_URL + path, data)
    if tamper:
        data = {**data, **tamper}
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)


def status_report(message: Message, status: str, **extra) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": message.provider_id or "SM" + "a" * 32,
        "MessageStatus": status,
        "From": FROM_NUMBER,
        "To": message.recipient,
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.fixture
def sent_sms(twilio):
    message = queued_sms()
    delivery.send_message(message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    return message


def test_a_signed_delivery_report_marks_the_message_and_the_invitation_delivered(
    client, settings, sent_sms
):
    path = reverse("notifications:twilio_status", args=[sent_sms.callback_key])
    assert post_signed(client, settings, path, status_report(sent_sms, "sent")).status_code == 204
    response = post_signed(client, settings, path, status_report(sent_sms, "delivered"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED
    assert sent_sms.delivered_at
    checkin = OnlineCheckIn.objects.get(appointment_id=sent_sms.appointment_id)
    assert checkin.invitation_status == OnlineCheckIn.InvitationStatus.DELIVERED
    # A late "sent" report does not move it back.
    post_signed(client, settings, path, status_report(sent_sms, "sent"))
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED


@pytest.mark.parametrize(
    ("token", "tamper", "header"),
    [
        ("not-our-token", None, True),
        (AUTH_TOKEN, {"MessageStatus": "undelivered"}, True),
        (AUTH_TOKEN, None, False),
    ],
    ids=["wrong-token", "tampered", "unsigned"],
)
def test_an_unsigned_or_forged_report_changes_nothing(
    client, settings, sent_sms, token, tamper, header
):
    path = reverse("notifications:twilio_status", args=[sent_sms.callback_key])
    data = status_report(sent_sms, "delivered")
    if header:
        response = post_signed(client, settings, path, data, token=token, tamper=tamper)
    else:
        response = client.post(path, data)
    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.SENT


def test_an_undelivered_report_fails_the_sms_and_falls_back_to_email(
    client, settings, sent_sms, eager_tasks, django_capture_on_commit_callbacks
):
    path = reverse("notifications:twilio_status", args=[sent_sms.callback_key])
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(
            client, settings, path, status_report(sent_sms, "undelivered", ErrorCode="30003")
        )
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.FAILED
    assert sent_sms.error == "Twilio: undelivered, error 30003"
    fallback = sent_sms.fallback
    assert fallback.channel == "email"
    assert fallback.status == Message.Status.SENT


def test_reports_for_unknown_messages_are_not_found(client, settings, twilio):
    path = reverse("notifications:twilio_status", args=["no-such-key"])
    response = post_signed(client, settings, path, {"MessageStatus": "delivered"})
    assert response.status_code == 404


def inbound(client, settings, body, sender="+32470123456", sid="SM" + "b" * 32):
    path = reverse("notifications:twilio_inbound")
    data = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": FROM_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    return post_signed(client, settings, path, data)


def test_a_reply_lands_on_the_timeline_of_the_appointment_we_texted(client, settings, sent_sms):
    from notifications.timeline import timeline_for

    response = inbound(client, settings, "Kan ik om 9u komen i.p.v. 8u?")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert b"<Response></Response>" in response.content
    reply = Message.objects.get(direction="in")
    assert reply.appointment_id == sent_sms.appointment_id
    assert (reply.sender, reply.status, reply.purpose) == ("+32470123456", "received", "reply")
    entries = timeline_for(sent_sms.appointment)
    assert [e.message.direction for e in entries if e.message] == ["out", "in"]
    # Twilio retrying the same webhook adds nothing.
    inbound(client, settings, "Kan ik om 9u komen i.p.v. 8u?")
    assert Message.objects.filter(direction="in").count() == 1


def test_a_reply_goes_to_the_senders_nearest_open_appointment(client, settings, twilio):
    customer = CustomerFactory(phone="+32470999888")
    here = {"customer": customer, "dealership": customer.dealership}
    now = timezone.now()
    AppointmentFactory(  # over
        **here, starts_at=now - timezone.timedelta(days=3)
    )
    AppointmentFactory(  # sooner, but cancelled
        **here, starts_at=now + timezone.timedelta(hours=5), status="cancelled"
    )
    nearest = AppointmentFactory(**here, starts_at=now + timezone.timedelta(days=1))
    AppointmentFactory(**here, starts_at=now + timezone.timedelta(days=9))
    inbound(client, settings, "Hallo?", sender="+32470999888")
    assert Message.objects.get(direction="in").appointment == nearest


@pytest.mark.parametrize(
    "word", ["STOP", " stop ", "Stopall", "UNSUBSCRIBE", "cancel", "End", "quit"]
)
def test_stop_opts_the_customer_out_of_sms(client, settings, sent_sms, word):
    inbound(client, settings, word)

    customer = Customer.objects.get(pk=sent_sms.customer_id)
    assert customer.sms_opted_out_at is not None
    assert not customer.can_receive("sms")
    assert customer.channels_to_try() == ["email"]
    event = sent_sms.appointment.events.get(kind=AppointmentEvent.Kind.SMS_OPT_OUT)
    assert event.actor == "customer"


def test_a_reply_that_only_mentions_stop_does_not_opt_out(client, settings, sent_sms):
    inbound(client, settings, "Please don't stop the car wash")
    assert Customer.objects.get(pk=sent_sms.customer_id).sms_opted_out_at is None


def test_start_opts_the_customer_back_in(client, settings, sent_sms):
    inbound(client, settings, "STOP", sid="SM" + "1" * 32)
    inbound(client, settings, "unstop", sid="SM" + "2" * 32)
    customer = Customer.objects.get(pk=sent_sms.customer_id)
    assert customer.sms_opted_out_at is None
    assert sent_sms.appointment.events.filter(field="sms_opted_out_at").exists()


def test_an_opted_out_customer_gets_email_instead(
    client, settings, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory()
    message = queued_sms(appointment)
    inbound(client, settings, "STOP")

    with django_capture_on_commit_callbacks(execute=True):
        delivery.send_message(message.pk)

    assert twilio.requests == []  # respected from then on
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "opted out" in message.error
    assert message.fallback.channel == "email"
    assert message.fallback.status == Message.Status.SENT


def test_twilio_refusing_an_unsubscribed_number_opts_the_customer_out(
    twilio, eager_tasks, django_capture_on_commit_callbacks
):
    twilio.answer(*twilio.error(400, 21610, "Attempt to send to unsubscribed recipient"))
    message = queued_sms()
    with django_capture_on_commit_callbacks(execute=True):
        delivery.send_message(message.pk)
    customer = Customer.objects.get(pk=message.customer_id)
    assert customer.sms_opted_out_at is not None
    assert message.appointment.events.filter(kind=AppointmentEvent.Kind.SMS_OPT_OUT).exists()
