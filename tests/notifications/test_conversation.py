"""The conversation: inbound SMS matched to an appointment, one-word answers, unread
messages that pin, MMS pictures, and staff replies through the exactly-once delivery."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from integrations.models import WebhookEvent
from notifications import conversation, delivery, gsm
from notifications.answers_words import Answer, parse
from notifications.models import Message
from notifications.transports import twilio_signature
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, UserFactory
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.portal.media import jpeg_with_gps
from tests.workshop.staffdata import media_root_fixture  # noqa: F401 - the media_root fixture
from workshop.models import Appointment, AppointmentEvent, Attachment, CheckInItem, Membership

pytestmark = pytest.mark.django_db

PHONE = "+32470123456"


def inbound(client, settings, body, *, sender=PHONE, to=FROM_NUMBER, sid="SM" + "c" * 32, **extra):
    path = reverse("notifications:twilio_inbound")
    data = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    signature = twilio_signature(AUTH_TOKEN, settings.SITE_URL + path, data)
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)


# --- The words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["OK", "ok!", "Yes", "ja", "Ja prima", "Ja, graag!", "oui", "D'accord", "d\u2019accord merci",
     "Jawohl", "prima", "👍", "👍🏽", "Oké 👍", "OK, danke", "yes please", "Oui merci !"],
)  # fmt: skip
def test_a_reply_meaning_yes_in_any_of_the_four_languages_is_yes(text):
    assert parse(text) == Answer.YES


@pytest.mark.parametrize(
    "text",
    ["no", "NEE", "Nee hoor", "non.", "Nein", "kan niet", "Ik kan niet", "Kann leider nicht",
     "nein danke", "pas possible", "no, sorry", "👎"],
)  # fmt: skip
def test_a_reply_meaning_no_in_any_of_the_four_languages_is_no(text):
    assert parse(text) == Answer.NO


@pytest.mark.parametrize(
    "text",
    ["", "   ", "Ja maar kan ik om 9u komen?", "ok for Thursday but not Friday", "thanks",
     "yes no", "Kan ik het donderdag brengen?", "STOP", "?", "Oui, mais plus tard"],
)  # fmt: skip
def test_anything_else_is_a_message_for_staff_never_guessed(text):
    assert parse(text) is None


# --- Matching ------------------------------------------------------------------------------


def test_a_reply_to_a_dealerships_own_number_finds_its_appointment_not_anothers(client, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    ours = DealershipFactory(sms_number="+3225550199")
    theirs = AppointmentFactory(starts_at=timezone.now() + timezone.timedelta(hours=3))
    mine = AppointmentFactory(
        dealership=ours, customer=CustomerFactory(dealership=ours, phone=PHONE)
    )
    inbound(client, settings, "Hoe laat mag ik komen?", to="+3225550199")
    message = Message.objects.get(direction="in")
    assert message.appointment == mine
    assert theirs.customer.phone == mine.customer.phone  # the same person at two dealerships


def test_a_reply_that_matches_no_open_appointment_waits_in_the_dealerships_inbox(client, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    done = AppointmentFactory(status=Appointment.Status.DONE)
    inbound(client, settings, "Is mijn auto klaar?")
    message = Message.objects.get(direction="in")
    assert message.appointment is None
    assert message.dealership == done.dealership
    assert list(Message.objects.unmatched([done.dealership_id])) == [message]
    # A number nobody knows is kept too, never lost.
    inbound(client, settings, "Hallo", sender="+32470000001", sid="SM" + "d" * 32)
    assert Message.objects.filter(direction="in", sender="+32470000001").exists()


# --- One-word answers ----------------------------------------------------------------------


@pytest.fixture
def booked(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    dealership = DealershipFactory(booking_url="https://garage.example/book")
    return AppointmentFactory(
        dealership=dealership, customer=CustomerFactory(dealership=dealership, phone=PHONE)
    )


def acknowledgements(appointment):
    return list(
        Message.objects.filter(
            appointment=appointment, purpose__in=["ack_confirmed", "ack_declined"]
        )
    )


def test_ja_by_sms_confirms_once_and_thanks_the_customer_in_their_language(
    client, settings, booked
):
    inbound(client, settings, "Ja prima!")
    inbound(client, settings, "Ja prima!")  # Twilio retries the webhook
    inbound(client, settings, "ok", sid="SM" + "e" * 32)  # and the customer says it twice

    booked.refresh_from_db()
    assert booked.confirmation == Appointment.Confirmation.CONFIRMED
    assert booked.confirmation_at is not None
    assert booked.events.filter(kind=AppointmentEvent.Kind.CONFIRMED).count() == 1
    (ack,) = acknowledgements(booked)
    assert (ack.channel, ack.language, ack.recipient) == ("sms", "nl", PHONE)
    assert "bevestigd" in ack.body
    assert gsm.segments(ack.body) == 1
    # A one-word answer asks nothing of staff: read, not pinned.
    assert Message.objects.unread().count() == 0
    assert not booked.is_pinned


def test_nee_declines_pins_and_says_how_to_rebook(client, settings, booked):
    inbound(client, settings, "Nee, sorry")

    booked.refresh_from_db()
    assert booked.confirmation == Appointment.Confirmation.DECLINED
    assert booked.is_pinned
    (ack,) = acknowledgements(booked)
    assert "+32 9 210 10 10" in ack.body
    assert "https://garage.example/book" in ack.body
    assert "contact" in ack.body  # "Wij nemen contact op": the workshop will be in touch

    staff = UserFactory()
    assert conversation.handle_decline(booked, staff)
    assert not conversation.handle_decline(booked, staff)  # once
    assert not Appointment.objects.get(pk=booked.pk).is_pinned


def test_an_answer_is_one_event_for_the_dms_each_time_it_changes(client, settings, booked):
    inbound(client, settings, "Ja")
    inbound(client, settings, "ok", sid="SM" + "f" * 32)  # the same answer: no new event
    inbound(client, settings, "nee", sid="SM" + "d" * 32)  # changed their mind

    names = list(
        WebhookEvent.objects.filter(appointment=booked)
        .order_by("pk")
        .values_list("name", flat=True)
    )
    assert names == ["appointment.confirmed", "appointment.declined"]


def test_anything_else_waits_unread_and_pins_until_someone_reads_it(client, settings, booked):
    inbound(client, settings, "Ja, maar kan ik om 9u komen?")

    booked.refresh_from_db()
    assert booked.confirmation == ""
    assert acknowledgements(booked) == []
    assert booked.is_pinned
    assert list(Appointment.objects.pinned()) == [booked]
    assert conversation.unread_count(booked.dealership_id) == 1

    assert conversation.mark_read(booked, UserFactory()) == 1
    assert not Appointment.objects.get(pk=booked.pk).is_pinned
    assert conversation.unread_count(booked.dealership_id) == 0


def test_an_automatic_reply_never_confirms(booked):
    message = Message.objects.create(
        appointment=booked,
        customer=booked.customer,
        channel="email",
        direction="in",
        purpose="reply",
        recipient="reply@garage.example",
        sender=booked.customer.email,
        body="OK",
        status="received",
        auto_reply=True,
    )
    assert conversation.received(message) is None
    booked.refresh_from_db()
    assert booked.confirmation == ""


def test_an_answer_after_the_appointment_started_changes_nothing(client, settings, booked):
    Appointment.objects.filter(pk=booked.pk).update(
        starts_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    inbound(client, settings, "ok")
    booked.refresh_from_db()
    assert booked.confirmation == ""
    assert Message.objects.unread().count() == 1  # staff read it instead


def test_changing_an_answer_is_taken_and_acknowledged_within_a_limit(booked):
    booked = Appointment.objects.select_related("dealership", "customer", "vehicle", "checkin").get(
        pk=booked.pk
    )
    flips = [Answer.YES, Answer.NO] * 4
    changed = [conversation.answer(booked, meaning) for meaning in flips]
    assert all(changed)
    assert len(acknowledgements(booked)) == conversation.MAX_ACKNOWLEDGEMENTS
    assert Appointment.objects.get(pk=booked.pk).confirmation == "declined"


def test_the_advisor_who_asked_gets_an_email_when_the_customer_writes(
    client, settings, booked, eager_tasks, django_capture_on_commit_callbacks
):
    advisor = UserFactory(username="advisor", email="advisor@garage.example")
    Membership.objects.create(
        user=advisor,
        dealership=booked.dealership,
        role="receptionist",
        email_on_customer_message=True,
    )
    Appointment.objects.filter(pk=booked.pk).update(advisor=advisor)
    with django_capture_on_commit_callbacks(execute=True):
        inbound(client, settings, "Mijn band is ook lek")
    (notice,) = mail.outbox
    assert notice.to == ["advisor@garage.example"]
    # In the workshop's language, whatever language the request or worker runs in.
    values = {"name": booked.customer.full_name, "reference": booked.external_ref}
    with translation.override(booked.dealership.language):
        assert notice.subject == gettext("%(name)s wrote about %(reference)s") % values
    assert not notice.subject.endswith(f"wrote about {booked.external_ref}")  # not English
    assert "Mijn band is ook lek" in notice.body
    assert reverse("workshop:appointment", args=[booked.pk]) in notice.body


def test_an_advisor_who_did_not_ask_gets_nothing(
    client, settings, booked, eager_tasks, django_capture_on_commit_callbacks
):
    advisor = UserFactory(username="quiet", email="quiet@garage.example")
    Membership.objects.create(user=advisor, dealership=booked.dealership, role="receptionist")
    Appointment.objects.filter(pk=booked.pk).update(advisor=advisor)
    with django_capture_on_commit_callbacks(execute=True):
        inbound(client, settings, "Mijn band is ook lek")
    assert mail.outbox == []


# --- MMS ---------------------------------------------------------------------------------


def test_mms_pictures_become_checked_attachments_once_however_often_twilio_retries(
    client, settings, twilio, booked, eager_tasks, django_capture_on_commit_callbacks, media_root
):
    photo = twilio.add_media("image/jpeg", jpeg_with_gps())
    not_a_photo = twilio.add_media("image/jpeg", b"MZ\x90\x00 definitely not a picture")
    pictures = {"NumMedia": "2", "MediaUrl0": photo, "MediaUrl1": not_a_photo}
    for _attempt in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            inbound(client, settings, "Dit lampje brandt", **pictures)

    message = Message.objects.get(direction="in")
    remark = message.remark
    assert remark is not None
    assert remark.state == CheckInItem.State.OPEN
    assert remark.description == "Dit lampje brandt"
    (attachment,) = remark.attachments.all()
    assert attachment.state == Attachment.State.READY  # sniffed, checked, location removed
    assert attachment.kind == "photo"
    assert booked.is_pinned


def test_media_from_anywhere_but_the_provider_is_not_fetched(
    client, settings, twilio, booked, eager_tasks, django_capture_on_commit_callbacks, media_root
):
    elsewhere = "http://127.0.0.1:9/evil.jpg"
    with django_capture_on_commit_callbacks(execute=True):
        inbound(client, settings, "kijk", NumMedia="1", MediaUrl0=elsewhere)
    message = Message.objects.get(direction="in")
    assert message.remark.attachments.count() == 0


# --- Staff replies -----------------------------------------------------------------------


def test_a_staff_reply_goes_out_once_by_twilio_and_reads_the_conversation(
    client, settings, twilio, booked, django_capture_on_commit_callbacks
):
    inbound(client, settings, "Kan ik om 9u komen?")
    staff = UserFactory()
    reply = conversation.send_reply(
        booked, user=staff, channel="sms", body="Ja hoor, 9u is goed. \u2018Tot dan\u2019"
    )
    assert reply.author == staff
    assert Message.objects.unread().count() == 0

    delivery.send_message(reply.pk)
    delivery.send_message(reply.pk)  # a second worker finds nothing to do

    (sent,) = twilio.sends()
    assert sent["To"] == PHONE
    assert sent["Body"] == "Ja hoor, 9u is goed. 'Tot dan'"  # GSM-7, no curly quotes
    reply.refresh_from_db()
    assert reply.status == Message.Status.SENT


def test_a_staff_reply_is_sent_while_the_car_is_with_us_but_not_once_cancelled_or_missed(
    twilio, booked
):
    Appointment.objects.filter(pk=booked.pk).update(
        starts_at=timezone.now() - timezone.timedelta(minutes=30)
    )
    booked.refresh_from_db()
    reply = conversation.send_reply(booked, user=None, channel="sms", body="Uw auto is klaar.")
    delivery.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.status == Message.Status.SENT

    for status in ("arrived", "ready", "done"):  # the car with us, or just collected
        Appointment.objects.filter(pk=booked.pk).update(status=status)
        booked.refresh_from_db()
        reply = conversation.send_reply(booked, user=None, channel="sms", body=f"Over {status}")
        delivery.send_message(reply.pk)
        reply.refresh_from_db()
        assert reply.status == Message.Status.SENT, (status, reply.error)

    for status in ("cancelled", "no_show"):
        Appointment.objects.filter(pk=booked.pk).update(status=status)
        booked.refresh_from_db()
        with pytest.raises(conversation.ReplyRefused):
            conversation.send_reply(booked, user=None, channel="sms", body="Nog iets")


def test_the_reply_channel_is_the_one_the_customer_last_wrote_by(booked):
    booked.customer.preferred_channel = "sms"
    assert conversation.reply_channel(booked, []) == "sms"
    written = Message(direction="in", channel="email")
    assert conversation.reply_channel(booked, [written]) == "email"
