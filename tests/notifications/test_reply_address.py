"""Every e-mail we send carries the appointment's own secret reply address, and a reply
to it comes back to that appointment. Sent through a real SMTP server (aiosmtpd)."""

import os
import re
import socket
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from notifications import delivery
from notifications.compose import build_message
from notifications.email_in import store_inbound_email
from notifications.models import Message, ReplyAddress
from notifications.reply_to import key_in, reply_address
from tests.factories import AppointmentFactory
from workshop.models import Channel

ROOT = Path(__file__).resolve().parents[2]


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()  # returns once the server answers
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def _send_invitation(appointment) -> EmailMessage:
    message = build_message(
        appointment, "invitation", Channel.EMAIL, now=appointment.created_at, overrides={}
    )
    message.save()
    delivery.send_message(message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT, message.error
    return message


def test_the_sent_mail_carries_the_appointments_secret_reply_address(db, smtp_server):
    appointment = AppointmentFactory(customer__preferred_channel=Channel.EMAIL)

    _send_invitation(appointment)

    (envelope,) = smtp_server.envelopes
    sent = message_from_bytes(envelope.content, policy=policy.default)
    key = ReplyAddress.objects.get(appointment=appointment).key
    assert re.fullmatch(r"[a-z2-7]{24}", key)  # 120 random bits, safe in any mailbox
    assert sent["Reply-To"] == f"reply+{key}@pitlane.localhost"
    assert envelope.rcpt_tos == [appointment.customer.email]


def test_a_reply_to_the_sent_mail_comes_back_to_its_appointment(db, smtp_server):
    appointment = AppointmentFactory(customer__preferred_channel=Channel.EMAIL)
    AppointmentFactory(customer=appointment.customer, dealership=appointment.dealership)
    _send_invitation(appointment)
    sent = message_from_bytes(smtp_server.envelopes[0].content, policy=policy.default)

    reply = EmailMessage()
    reply["From"] = appointment.customer.email
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = "Re: " + sent["Subject"]
    reply["Message-ID"] = "<reply-1@example.com>"
    reply["In-Reply-To"] = sent["Message-ID"]
    reply.set_content("Fine, see you then.\n\nOn Monday, Garage wrote:\n> Check in online")
    message = store_inbound_email(reply.as_bytes())

    assert message.appointment == appointment
    assert message.body == "Fine, see you then."


def test_each_appointment_has_its_own_key_and_keeps_it(db, smtp_server):
    first, second = AppointmentFactory.create_batch(2, customer__preferred_channel="email")

    _send_invitation(first)
    _send_invitation(first)
    _send_invitation(second)

    addresses = [
        message_from_bytes(e.content, policy=policy.default)["Reply-To"]
        for e in smtp_server.envelopes
    ]
    assert addresses[0] == addresses[1] != addresses[2]
    assert ReplyAddress.objects.count() == 2


def test_the_reply_address_is_at_the_inbound_mailbox_when_one_is_set(db, settings):
    settings.INBOUND_EMAIL_ADDRESS = "antwoord@mail.leiestreek.example"
    appointment = AppointmentFactory()

    address = reply_address(appointment)

    key = appointment.reply_address.key
    assert address == f"antwoord+{key}@mail.leiestreek.example"
    assert key_in(address) == key
    assert key_in(address.upper()) == key  # a mailbox that upper-cases the address
    assert key_in(f"reply+{key}@mail.leiestreek.example") == ""  # not our mailbox
    assert key_in("antwoord@mail.leiestreek.example") == ""


def _setting(name: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PITLANE_ENV_FILE": "", **env}
    code = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_inbound_mailbox_defaults_to_the_senders_domain_and_is_checked():
    default = _setting("INBOUND_EMAIL_ADDRESS", DEFAULT_FROM_EMAIL="Garage <noreply@garage.be>")
    assert default.stdout.strip().splitlines()[-1] == "reply@garage.be"
    named = _setting("INBOUND_EMAIL_ADDRESS", INBOUND_EMAIL_ADDRESS="in@mail.garage.be")
    assert named.stdout.strip().splitlines()[-1] == "in@mail.garage.be"
    for wrong in ("reply+x@garage.be", "garage.be"):
        refused = _setting("INBOUND_EMAIL_ADDRESS", INBOUND_EMAIL_ADDRESS=wrong)
        assert refused.returncode != 0
        assert "INBOUND_EMAIL_ADDRESS must be a mailbox" in refused.stderr
    secret = _setting("ANYMAIL", ANYMAIL_WEBHOOK_SECRET="a:b, c:d")
    assert secret.stdout.strip().splitlines()[-1] == "{'WEBHOOK_SECRET': ['a:b', 'c:d']}"
