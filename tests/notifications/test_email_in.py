"""E-mail from customers: real MIME files (tests/notifications/mime/) through the doors
we have (the webhook, the MTA pipe) into one `Message` each."""

import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from notifications.email_in import check_file, store_inbound_email
from notifications.email_parse import AUTO_REPLY, BOUNCE, NORMAL, parse
from notifications.models import InboundEmail, Message, MessageAttachment, ReplyAddress
from tests.conftest import closed_port_url, database_url_for_subprocess
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory
from workshop.models import Appointment, AppointmentEvent, Channel, CheckInItem, OnlineCheckIn

MIME = Path(__file__).parent / "mime"
ROOT = Path(__file__).resolve().parents[2]
# The reply key and the Message-ID of our invitation the fixtures answer.
KEY = "k7m2qx4vtn5wb3hr6yjd2pfa"
OUR_MESSAGE_ID = "<Zb4rT0a1cQ8nY2xPq7WvFg@pitlane>"
WEBHOOK_AUTH = "mailhook:correct-horse-battery"


def mime(name: str) -> bytes:
    return (MIME / name).read_bytes()


@pytest.fixture
def appointment(db):
    """The appointment the fixtures reply to, with the invitation they answer."""
    appointment = AppointmentFactory(
        customer__email="jan.peeters@example.be",
        customer__phone="",
        customer__preferred_channel=Channel.EMAIL,
        customer__language="en",
    )
    ReplyAddress.objects.create(appointment=appointment, key=KEY)
    return appointment


@pytest.fixture
def invitation(appointment):
    message = Message.objects.create(
        appointment=appointment,
        customer=appointment.customer,
        channel=Channel.EMAIL,
        direction=Message.Direction.OUT,
        purpose=Message.Purpose.INVITATION,
        recipient=appointment.customer.email,
        subject="Check in online for your visit on Thursday 3 December",
        body="Check in online: ...",
        status=Message.Status.SENT,
        provider_id=OUR_MESSAGE_ID,
        callback_key="Zb4rT0a1cQ8nY2xPq7WvFg",
    )
    OnlineCheckIn.objects.filter(appointment=appointment).update(
        invitation_status=OnlineCheckIn.InvitationStatus.SENT
    )
    return message


# --- One test per kind of mail -------------------------------------------------------------


def test_plain_reply_keeps_only_the_new_text_without_quote_or_signature(appointment):
    message = store_inbound_email(mime("plain_reply_quoted.eml"))

    assert message.appointment == appointment
    assert message.customer == appointment.customer
    assert (message.channel, message.direction, message.status) == ("email", "in", "received")
    assert message.sender == "jan.peeters@example.be"
    assert message.recipient == f"reply+{KEY}@pitlane.localhost"
    assert message.subject == "Re: Check in online for your visit on Thursday 3 December"
    assert message.body == (
        "Thursday morning is fine, but could you also look at the rattle in the back door? "
        "It gets worse over bumps."
    )
    inbound = message.inbound_email
    assert inbound.kind == InboundEmail.Kind.NORMAL
    assert inbound.mail_id == "<CAF8x3pQ2mZk7rT9yWq1LdV0hNfE4bGk@mail.gmail.com>"
    assert inbound.in_reply_to == OUR_MESSAGE_ID
    # The original is kept: the full text with its quote and signature, and the bytes.
    assert "> Your Volkswagen Golf (1-ABC-123) is booked" in inbound.full_text
    assert "Peeters Bouw BV" in inbound.full_text
    with inbound.raw.open("rb") as raw:
        assert raw.read() == mime("plain_reply_quoted.eml")


def test_outlook_reply_in_dutch_loses_the_original_message_block(appointment):
    message = store_inbound_email(mime("outlook_reply_nl.eml"))

    assert message.appointment == appointment
    assert message.body == (
        "Goedemorgen,\n\nIk breng de auto woensdagavond al binnen en laat de sleutel in de "
        "brievenbus. Kan dat?"
    )
    assert "Van: Autohuis Leiestreek" in message.inbound_email.full_text
    assert "-----Original Message-----" not in message.body


def test_html_only_reply_is_read_as_text_without_the_quoted_blockquote(appointment):
    message = store_inbound_email(mime("html_only_reply.eml"))

    assert message.body.startswith("Hello,\nPlease also replace the wiper blades, the front")
    assert "<" not in message.body
    assert "booked for service" not in message.body
    # The quoted part was kept, as quoted text, with its link's address.
    full = message.inbound_email.full_text
    assert "> Dear Sofie Maes," in full
    assert "http://127.0.0.1:8000/c/abcdEFGH1234567890abcdefgh" in full
    assert "margin:0" not in full  # the style sheet is not text


def test_reply_with_a_photo_keeps_the_photo_and_records_the_refused_pdf(appointment):
    message = store_inbound_email(mime("reply_with_jpeg.eml"))

    assert message.body == (
        "This light came on this morning, see the photo. And the invoice of the last service."
    )
    photo, pdf = message.attachments.all()
    assert photo.state == MessageAttachment.State.READY
    assert (photo.original_name, photo.kind, photo.content_type) == (
        "IMG_4821.jpeg",
        "photo",
        "image/jpeg",
    )
    sent = message_from_bytes(mime("reply_with_jpeg.eml"), policy=policy.default)
    jpeg = next(p for p in sent.iter_attachments() if p.get_content_type() == "image/jpeg")
    with photo.file.open("rb") as stored:
        assert stored.read() == jpeg.get_content()
    assert "IMG_4821" not in photo.file.name  # the sender's name is not the storage key
    # Not a photo or video: refused, with the reason, never silently dropped.
    assert pdf.state == MessageAttachment.State.REJECTED
    assert pdf.original_name == "invoice-2025-117.pdf"
    assert pdf.rejection_reason == "This file is not a photo or video we can accept."
    assert not pdf.file


def test_the_photo_of_an_email_reaches_staff_as_a_remark_as_an_mms_does(appointment):
    message = store_inbound_email(mime("reply_with_jpeg.eml"))

    remark = message.remark
    assert remark is not None
    remark.refresh_from_db()
    assert remark.checkin == appointment.checkin
    assert remark.state == CheckInItem.State.OPEN  # on the appointment page, pinned
    assert remark.description == message.body
    (photo,) = remark.attachments.all()  # the PDF stays refused with the e-mail
    assert photo.original_name == "IMG_4821.jpeg"
    assert photo.original_size == message.attachments.get(state="ready").size
    assert list(Appointment.objects.pinned()) == [appointment]


def test_out_of_office_is_recognised_as_an_auto_reply(appointment):
    message = store_inbound_email(mime("out_of_office.eml"))

    # Kept on the appointment, but marked: its "Ja, ik ben afwezig" is no answer.
    assert message.appointment == appointment
    assert message.inbound_email.kind == InboundEmail.Kind.AUTO_REPLY
    assert message.inbound_email.is_automatic
    # It confirms nothing and waits on nobody: read, the appointment not pinned.
    appointment.refresh_from_db()
    assert appointment.confirmation == Appointment.Confirmation.NO_ANSWER
    assert message.auto_reply
    assert message.read_at is not None
    assert not Appointment.objects.pinned().exists()


def test_a_one_word_reply_by_email_confirms_the_appointment(appointment):
    message = store_inbound_email(_mail(subject="Re: your visit"))  # "Ok"

    appointment.refresh_from_db()
    assert appointment.confirmation == Appointment.Confirmation.CONFIRMED
    assert message.read_at is not None  # answered: nothing waits on it
    assert appointment.events.filter(actor=AppointmentEvent.Actor.CUSTOMER).exists()


def test_a_question_by_email_stays_unread_and_pins_its_appointment(appointment):
    message = store_inbound_email(mime("plain_reply_quoted.eml"))

    appointment.refresh_from_db()
    assert appointment.confirmation == Appointment.Confirmation.NO_ANSWER
    assert message.read_at is None
    assert list(Appointment.objects.pinned()) == [appointment]


def test_bounce_marks_our_email_failed_and_the_customer_unreachable(appointment, invitation):
    message = store_inbound_email(mime("bounce_dsn.eml"))

    inbound = message.inbound_email
    assert inbound.kind == InboundEmail.Kind.BOUNCE
    assert inbound.bounced == invitation
    assert message.appointment == appointment
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.FAILED
    assert "5.1.1" in invitation.error
    assert "User unknown" in invitation.error
    # No other channel to fall back to: the staff see the customer cannot be reached.
    assert AppointmentEvent.objects.filter(
        appointment=appointment, kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE
    ).exists()
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.invitation_status == OnlineCheckIn.InvitationStatus.UNREACHABLE


def test_bounce_falls_back_to_sms_when_the_customer_has_a_mobile(appointment, invitation):
    appointment.customer.phone = "+32470123456"
    appointment.customer.save()

    store_inbound_email(mime("bounce_dsn.eml"))

    fallback = Message.objects.get(fallback_for=invitation)
    assert (fallback.channel, fallback.status) == (Channel.SMS, Message.Status.QUEUED)


def test_a_bounce_without_the_returned_headers_is_matched_by_the_failed_address(
    appointment, invitation
):
    Message.objects.filter(pk=invitation.pk).update(recipient="Jan.Peeters@example.invalid")
    raw = mime("bounce_dsn.eml")
    raw = raw[
        : raw.index(
            b"--4Z3kB02pQ1z9sX0.1764572405/mx.pitlane.localhost\nContent-Description: Undelivered"
        )
    ]

    message = store_inbound_email(raw)

    assert message.inbound_email.bounced == invitation
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.FAILED


def test_a_bounce_that_matches_nothing_is_kept_and_changes_nothing(invitation):
    raw = mime("bounce_dsn.eml").replace(b"Zb4rT0a1cQ8nY2xPq7WvFg", b"SomethingElse000000000")
    raw = raw.replace(b"jan.peeters@example.invalid", b"nobody@example.invalid")
    raw = raw.replace(f"reply+{KEY}".encode(), b"reply+zzzzzzzzzzzzzzzzzzzzzzzz")

    message = store_inbound_email(raw)

    assert message.inbound_email.kind == InboundEmail.Kind.BOUNCE
    assert message.appointment is None
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.SENT


def test_unknown_sender_to_an_unknown_key_is_kept_unmatched(appointment):
    message = store_inbound_email(mime("unknown_sender_unknown_key.eml"))

    assert message.appointment is None
    assert message.customer is None
    assert message.body == "Hello, do you also do tyre storage? My car is a Skoda Octavia."
    assert message.inbound_email.reply_key == "zq2wx3ec4rv5tb6yn7umzq2w"
    assert message.inbound_email.dealership is None
    assert Message.objects.filter(direction="in").count() == 1


def test_mail_to_a_dealerships_own_address_is_kept_for_that_dealership(db):
    dealership = DealershipFactory(email="service@leiestreek.example")
    customer = CustomerFactory(dealership=dealership, email="someone@example.org")
    raw = mime("unknown_sender_unknown_key.eml").replace(
        b"Delivered-To: reply+zq2wx3ec4rv5tb6yn7umzq2w@pitlane.localhost",
        b"Delivered-To: service@leiestreek.example",
    )

    message = store_inbound_email(raw)

    assert message.appointment is None
    assert message.customer == customer
    assert message.inbound_email.dealership == dealership


@pytest.mark.parametrize(
    ("fixture", "new_text"),
    [
        (
            "german_reply.eml",
            "Guten Tag,\n\ndie Bremsen quietschen beim Rückwärtsfahren. Bitte prüfen Sie das auch.",
        ),
        (
            "french_reply.eml",
            "Bonjour,\n\nJe préfère venir à 10h00 plutôt qu'à 08h30, est-ce possible ?",
        ),
    ],
)
def test_german_and_french_replies_lose_their_quote_and_greeting(appointment, fixture, new_text):
    message = store_inbound_email(mime(fixture))

    assert message.body == new_text
    assert message.appointment == appointment


def test_the_reply_key_is_found_in_the_envelope_when_the_headers_lack_it(appointment):
    raw = mime("plain_reply_quoted.eml")
    for header in (b"Delivered-To", b"To"):
        raw = raw.replace(
            header + b": ", b"X-Old-" + header + b": ", 1
        )  # as if the MTA told us only in the envelope

    message = store_inbound_email(raw, envelope_recipients=[f"reply+{KEY}@pitlane.localhost"])

    assert message.appointment == appointment


# --- Classification by headers and subjects ---------------------------------------------------


def _mail(subject: str = "Re: your visit", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "jan.peeters@example.be"
    mail["To"] = f"reply+{KEY}@pitlane.localhost"
    mail["Subject"] = subject
    mail["Message-ID"] = "<x@example.be>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Ok")
    return mail.as_bytes()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Auto_Submitted": "auto-generated"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "Out of office"},
        {"Precedence": "auto_reply"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
    ],
)
def test_auto_reply_headers_are_recognised(headers):
    assert parse(_mail(**headers)).kind == AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Check in online",
        "Automatic reply: Check in online",
        "Afwezig: Check online in",
        "Automatisch antwoord: Check online in",
        "Réponse automatique : Enregistrez-vous",
        "Absence du bureau",
        "Abwesenheitsnotiz: Online einchecken",
        "Automatische Antwort: Online einchecken",
    ],
)
def test_out_of_office_subjects_are_recognised_in_four_languages(subject):
    assert parse(_mail(subject)).kind == AUTO_REPLY


def test_a_person_who_says_no_to_auto_submission_wrote_it():
    assert parse(_mail(Auto_Submitted="no")).kind == NORMAL
    assert parse(_mail("Re: out of the office tomorrow?")).kind == NORMAL


def test_a_mailer_daemon_failure_notice_without_a_report_is_a_bounce():
    raw = _mail("failure notice").replace(
        b"From: jan.peeters@example.be", b"From: MAILER-DAEMON@mx.example.be"
    )
    assert parse(raw).kind == BOUNCE


def test_a_strange_mail_is_stored_all_the_same(appointment):
    raw = (
        b"From: =?bogus?q?broken?= <jan.peeters@example.be>\r\n"
        b"To: reply+" + KEY.encode() + b"@pitlane.localhost\r\n"
        b"Subject: =?utf-8?b?not base64!?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown-charset\r\n"
        b"\r\nMerci \xe9 \xff\r\n"
    )

    message = store_inbound_email(raw)

    assert message.appointment == appointment
    assert "Merci" in message.body
    with message.inbound_email.raw.open("rb") as stored:
        assert stored.read() == raw


# --- The same mail twice -----------------------------------------------------------------------


def test_the_same_mail_twice_is_one_message(appointment):
    first = store_inbound_email(mime("reply_with_jpeg.eml"))
    second = store_inbound_email(mime("reply_with_jpeg.eml"))

    assert second.pk == first.pk
    assert Message.objects.filter(direction="in").count() == 1
    assert MessageAttachment.objects.count() == 2


def test_a_mail_without_message_id_is_known_by_its_bytes(appointment):
    raw = mime("unknown_sender_unknown_key.eml").replace(
        b"Message-ID: <20261201130500.77331@example.org>\n", b""
    )
    store_inbound_email(raw)
    store_inbound_email(raw)
    store_inbound_email(raw.replace(b"tyre storage", b"tyre fitting"))

    assert Message.objects.filter(direction="in").count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_mta_piping_the_same_mail_twice_stores_it_once(appointment):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
    }
    command = [sys.executable, "manage.py", "receive_email", "--recipient", f"reply+{KEY}@x.test"]
    outputs = [
        subprocess.run(
            command,
            input=mime("plain_reply_quoted.eml"),
            capture_output=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
        )
        for _ in range(2)
    ]

    assert [run.returncode for run in outputs] == [0, 0], [run.stderr for run in outputs]
    message = Message.objects.get(direction="in")
    assert outputs[0].stdout == outputs[1].stdout == f"Stored as message {message.pk}.\n".encode()
    assert message.appointment == appointment
    assert message.body.startswith("Thursday morning is fine")


def test_with_the_database_down_the_mta_is_told_to_try_again_later():
    """Exit 75 (EX_TEMPFAIL): Postfix and Exim keep the mail queued and pipe it again."""
    database = closed_port_url("postgres").removesuffix("/0") + "/pitlane"
    run = subprocess.run(
        [sys.executable, "manage.py", "receive_email"],
        input=mime("plain_reply_quoted.eml"),
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database},
        timeout=120,
        check=False,
    )

    assert run.returncode == 75, run.stderr
    assert b"Not stored now, try again later" in run.stderr


def test_receive_email_refuses_an_empty_input(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(CommandError, match="No e-mail"):
        call_command("receive_email")
    assert not Message.objects.exists()


# --- The webhook (django-anymail) ---------------------------------------------------------


def _postmark(raw: bytes, recipient: str = f"reply+{KEY}@pitlane.localhost") -> str:
    """Postmark's inbound webhook with "include raw email content" on."""
    mail = message_from_bytes(raw, policy=policy.default)
    return json.dumps(
        {
            "FromFull": {"Email": "jan.peeters@example.be", "Name": "Jan Peeters"},
            "OriginalRecipient": recipient,
            "Subject": str(mail["Subject"]),
            "MessageID": "7f2c7a0e-4d2b-4f6c-9d1a-2b3c4d5e6f70",
            "Headers": [{"Name": "Return-Path", "Value": "<jan.peeters@example.be>"}],
            "RawEmail": raw.decode(),
        }
    )


def _auth(credentials: str = WEBHOOK_AUTH) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [WEBHOOK_AUTH]}


def test_a_provider_posts_a_reply_once_or_twice_and_it_is_one_message(
    client, appointment, webhook_secret
):
    url = reverse("notifications:inbound_email", args=["postmark"])
    payload = _postmark(mime("reply_with_jpeg.eml"))

    for _ in range(2):  # the provider retries
        response = client.post(url, payload, content_type="application/json", **_auth())
        assert response.status_code == 200

    message = Message.objects.get(direction="in")
    assert message.appointment == appointment
    assert message.body.startswith("This light came on this morning")
    assert [a.state for a in message.attachments.all()] == ["ready", "rejected"]


def test_mailgun_posts_the_raw_mime_with_its_signature(
    client, appointment, webhook_secret, settings
):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "mg-signing-key"}
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(
        b"mg-signing-key", (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    url = reverse("notifications:inbound_email", args=["mailgun"])
    response = client.post(
        url,
        {
            "body-mime": mime("german_reply.eml").decode(),
            "recipient": f"reply+{KEY}@pitlane.localhost",
            "sender": "klaus.becker@example.de",
            "timestamp": timestamp,
            "token": token,
            "signature": signature,
        },
        **_auth(),
    )

    assert response.status_code == 200, response.content
    message = Message.objects.get(direction="in")
    assert message.appointment == appointment
    assert "Bremsen quietschen" in message.body


def test_the_webhook_refuses_wrong_credentials(client, appointment, webhook_secret):
    url = reverse("notifications:inbound_email", args=["postmark"])
    payload = _postmark(mime("plain_reply_quoted.eml"))

    for auth in ({}, _auth("mailhook:wrong")):
        response = client.post(url, payload, content_type="application/json", **auth)
        assert response.status_code == 400
    assert not Message.objects.exists()


def test_the_webhook_is_shut_without_a_secret_and_for_unknown_providers(client, settings, db):
    settings.ANYMAIL = {"WEBHOOK_SECRET": []}
    url = reverse("notifications:inbound_email", args=["postmark"])
    payload = _postmark(mime("plain_reply_quoted.eml"))
    assert client.post(url, payload, content_type="application/json").status_code == 404

    settings.ANYMAIL = {"WEBHOOK_SECRET": [WEBHOOK_AUTH]}
    unknown = reverse("notifications:inbound_email", args=["pigeon"])
    response = client.post(unknown, payload, content_type="application/json", **_auth())
    assert response.status_code == 404
    assert not Message.objects.exists()


# --- Files: the same checks as portal uploads ------------------------------------------------


def test_files_are_checked_by_content_not_by_name(settings):
    sent = message_from_bytes(mime("reply_with_jpeg.eml"), policy=policy.default)
    jpeg = next(p for p in sent.iter_attachments() if p.get_content_type() == "image/jpeg")
    data = jpeg.get_content()

    assert check_file(data)[0].content_type == "image/jpeg"
    assert (
        check_file(b"MZ\x90\x00 not a photo")[1]
        == "This file is not a photo or video we can accept."
    )
    assert check_file(data[:12])[1] == "This photo could not be read; it may be damaged."
    assert check_file(b"")[1] == "This file did not arrive."
    settings.CHECKIN_MAX_PHOTO_BYTES = len(data) - 1
    assert check_file(data)[1] == "This file is larger than we accept."
    settings.CHECKIN_MAX_PHOTO_BYTES = 10_000_000
    settings.CHECKIN_MAX_PHOTO_MEGAPIXELS = 0
    assert check_file(data)[1].startswith("This photo has more pixels than we accept")


def test_more_photos_than_a_message_takes_are_refused_with_the_reason(appointment, settings):
    settings.CHECKIN_MAX_FILES_PER_REMARK = 1
    sent = message_from_bytes(mime("reply_with_jpeg.eml"), policy=policy.default)
    sent.replace_header("Message-ID", "<two-photos@example.be>")
    jpeg = next(p for p in sent.iter_attachments() if p.get_content_type() == "image/jpeg")
    sent.add_attachment(jpeg.get_content(), "image", "jpeg", filename="second.jpg")

    message = store_inbound_email(sent.as_bytes())

    states = {a.original_name: (a.state, a.rejection_reason) for a in message.attachments.all()}
    assert states["IMG_4821.jpeg"] == ("ready", "")
    assert states["second.jpg"][0] == "rejected"
    assert "more photos and videos" in states["second.jpg"][1]


# --- What a post costs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "queries"),
    # A photo also goes to the check-in as a remark, through the portal's upload checks.
    # A bounce leaves the customer not reachable: a follow-up call opens (six queries).
    [("plain_reply_quoted.eml", 8), ("reply_with_jpeg.eml", 29), ("bounce_dsn.eml", 20)],
)
def test_a_webhook_post_costs_a_fixed_number_of_queries(
    client, appointment, invitation, webhook_secret, django_assert_num_queries, fixture, queries
):
    url = reverse("notifications:inbound_email", args=["postmark"])
    payload = _postmark(mime(fixture))

    with django_assert_num_queries(queries):
        response = client.post(url, payload, content_type="application/json", **_auth())
    assert response.status_code == 200
    # Again (the provider retries): one lookup finds it stored.
    with django_assert_num_queries(1):
        client.post(url, payload, content_type="application/json", **_auth())


def test_a_mail_larger_than_a_form_post_is_taken_up_to_its_own_limit(
    client, appointment, webhook_secret, settings
):
    sent = message_from_bytes(mime("reply_with_jpeg.eml"), policy=policy.default)
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" * 500_000
    sent.add_attachment(video, "video", "mp4", filename="rattle.mp4")
    payload = _postmark(sent.as_bytes())
    assert len(payload) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    url = reverse("notifications:inbound_email", args=["postmark"])

    settings.INBOUND_EMAIL_MAX_BYTES = len(payload) - 1
    response = client.post(url, payload, content_type="application/json", **_auth())
    assert response.status_code == 413
    assert not Message.objects.exists()

    settings.INBOUND_EMAIL_MAX_BYTES = 50 * 1024 * 1024
    response = client.post(url, payload, content_type="application/json", **_auth())
    assert response.status_code == 200
    names = [a.original_name for a in Message.objects.get().attachments.all()]
    assert names == ["IMG_4821.jpeg", "invoice-2025-117.pdf", "rattle.mp4"]
