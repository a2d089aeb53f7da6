"""One message, exactly once: claims, retries, fallback, not reachable, the sweep, resend."""

import threading
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from notifications import delivery
from notifications.compose import build_message
from notifications.invitations import (
    CheckInClosed,
    CustomerUnreachable,
    ResendTooSoon,
    dispatch_due_invitations,
    resend_invitation,
)
from notifications.models import Message
from notifications.tasks import send_message
from tests.factories import AppointmentFactory, CustomerFactory, UserFactory
from workshop.models import Appointment, AppointmentEvent, OnlineCheckIn

Status = Message.Status
Invitation = OnlineCheckIn.InvitationStatus


def dispatched(appointment) -> Message:
    """The appointment's invitation, as the dispatcher queues it."""
    (message,) = [m for m in dispatch_due_invitations() if m.appointment_id == appointment.pk]
    return message


@pytest.mark.django_db
def test_a_message_is_sent_once_however_often_its_task_runs(due_appointment, twilio):
    message = dispatched(due_appointment)

    for _ in range(3):
        send_message.apply(args=[message.pk])

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1
    assert message.provider_id.startswith("SM")
    checkin = OnlineCheckIn.objects.get(appointment=due_appointment)
    assert checkin.invitation_status == Invitation.SENT
    assert checkin.invited_at


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_message_send_it_once(due_appointment, twilio):
    message = dispatched(due_appointment)
    twilio.hold()  # the first send waits at Twilio while the second worker tries
    results: list = []

    def worker() -> None:
        try:
            results.append(delivery.send_message(message.pk))
        finally:
            connection.close()

    first = threading.Thread(target=worker)
    first.start()
    assert twilio.received.wait(10)
    second = threading.Thread(target=worker)
    second.start()
    second.join(10)
    twilio.release()
    first.join(10)

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1


@pytest.mark.django_db
def test_a_passing_failure_is_retried_with_growing_waits_then_sent(
    due_appointment, twilio, settings
):
    settings.MESSAGE_RETRY_SECONDS, settings.MESSAGE_MAX_ATTEMPTS = 30, 4
    twilio.answer(*twilio.error(503, 20503, "Service unavailable"))
    twilio.answer(*twilio.error(429, 20429, "Too many requests"))
    message = dispatched(due_appointment)

    waits = [delivery.send_message(message.pk), delivery.send_message(message.pk)]
    assert waits == [30, 60]
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.error == "Attempt 2: Twilio 429 error 20429: Too many requests"

    assert delivery.send_message(message.pk) is None
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error) == (Status.SENT, 3, "")
    assert len(twilio.requests) == 3


@pytest.mark.django_db
def test_a_passing_failure_that_lasts_counts_as_failed_then_falls_back(
    due_appointment, twilio, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    for _ in range(3):
        twilio.answer(*twilio.error(500, 20500, "Internal error"))
    message = dispatched(due_appointment)

    with django_capture_on_commit_callbacks(execute=True):
        waits = [delivery.send_message(message.pk) for _ in range(3)]

    assert waits[:2] == [30, 60]
    assert waits[2] is None
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error.startswith("Gave up after 3 attempts: Twilio 500")
    assert message.fallback.channel == "email"
    assert message.fallback.status == Status.SENT
    assert delivery.send_message(message.pk) is None
    assert len(twilio.requests) == 3


@pytest.mark.django_db
def test_an_invalid_number_falls_back_to_email_at_once(
    due_appointment, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    twilio.answer(*twilio.error(400, 21211, "The 'To' number is not a valid phone number."))
    message = dispatched(due_appointment)

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.send_message(message.pk) is None

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 1
    assert "21211" in message.error
    fallback = message.fallback
    assert (fallback.channel, fallback.purpose, fallback.status) == ("email", "invitation", "sent")
    (email,) = mail.outbox
    assert email.to == [due_appointment.customer.email]
    checkin = OnlineCheckIn.objects.get(appointment=due_appointment)
    assert checkin.invitation_status == Invitation.SENT


@pytest.mark.django_db
def test_with_no_other_channel_the_customer_is_flagged_not_reachable(
    always_open, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(dealership=always_open, email="")
    appointment = AppointmentFactory(dealership=always_open, customer=customer)
    twilio.answer(*twilio.error(400, 21614, "'To' number is not a valid mobile number"))

    with django_capture_on_commit_callbacks(execute=True):
        dispatched(appointment)

    message = Message.objects.get(appointment=appointment)
    assert message.status == Status.FAILED
    assert not hasattr(message, "fallback") or message.fallback is None
    checkin = OnlineCheckIn.objects.get(appointment=appointment)
    assert checkin.invitation_status == Invitation.UNREACHABLE
    assert checkin.get_invitation_status_display() == "Customer not reachable"
    event = appointment.events.get(kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE)
    assert "21614" in event.detail


@pytest.mark.django_db
def test_when_the_fallback_fails_too_the_customer_is_not_reachable(
    due_appointment, twilio, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.notifications.refusing_backend.RefusingBackend"
    twilio.answer(*twilio.error(400, 21211, "Invalid 'To'"))

    with django_capture_on_commit_callbacks(execute=True):
        message = dispatched(due_appointment)

    message.refresh_from_db()
    assert message.fallback.status == Status.FAILED
    assert "Address refused" in message.fallback.error
    assert not Message.objects.filter(fallback_for=message.fallback).exists()
    checkin = OnlineCheckIn.objects.get(appointment=due_appointment)
    assert checkin.invitation_status == Invitation.UNREACHABLE


# --- The sweep: no outcome, or a lost task ---------------------------------------------


def no_answer(twilio, settings, message: Message) -> None:
    """Sends `message` to a Twilio that takes it (or not) and answers too late."""
    settings.TWILIO_READ_TIMEOUT_SECONDS = 0.5
    assert delivery.send_message(message.pk) is None
    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert message.error.startswith("Interrupted while sending? Twilio did not answer")


def after_the_sending_timeout() -> timezone.datetime:
    return timezone.now() + timedelta(minutes=3)


@pytest.mark.django_db
def test_an_sms_twilio_took_without_answering_is_recorded_as_sent_not_sent_again(
    due_appointment, twilio, settings
):
    message = dispatched(due_appointment)
    twilio.hold()  # Twilio creates the message, and answers after our read timeout
    no_answer(twilio, settings, message)

    assert delivery.sweep() == (0, 0, 0, 0, 0)  # not yet: it may still be on its way
    assert delivery.sweep(after_the_sending_timeout()).found == 1

    message.refresh_from_db()
    (at_twilio,) = twilio.messages
    assert (message.status, message.provider_id, message.error) == (
        Status.SENT,
        at_twilio["sid"],
        "",
    )
    assert OnlineCheckIn.objects.get(appointment=due_appointment).invitation_status == (
        Invitation.SENT
    )
    assert len(twilio.requests) == 1
    assert [path.split("?")[0].rsplit("/", 1)[1] for path in twilio.lookups] == ["Messages.json"]
    assert f"To={quote(message.recipient)}" in twilio.lookups[0]


@pytest.mark.django_db
def test_an_sms_that_never_reached_twilio_is_sent_again_once(
    due_appointment, twilio, settings, eager_tasks, django_capture_on_commit_callbacks
):
    message = dispatched(due_appointment)
    twilio.lose_next()  # the request hangs, and Twilio never creates the message
    no_answer(twilio, settings, message)
    assert twilio.messages == []

    with django_capture_on_commit_callbacks(execute=True):
        swept = delivery.sweep(after_the_sending_timeout())

    assert swept.resent == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    (at_twilio,) = twilio.messages
    assert message.provider_id == at_twilio["sid"]
    assert len(twilio.requests) == 2  # the lost one, and the one that arrived
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep(after_the_sending_timeout()) == (0, 0, 0, 0, 0)
    assert len(twilio.messages) == 1


@pytest.mark.django_db
def test_a_message_found_by_its_sid_is_recorded_as_twilio_reports_it(
    due_appointment, twilio, settings
):
    message = dispatched(due_appointment)
    twilio.hold()
    no_answer(twilio, settings, message)
    (at_twilio,) = twilio.messages
    at_twilio["status"] = "delivered"
    # A status report brought the id, but not (yet) a state that moves the message on.
    Message.objects.filter(pk=message.pk).update(provider_id=at_twilio["sid"])

    assert delivery.sweep(after_the_sending_timeout()).found == 1

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert twilio.lookups == [
        f"/2010-04-01/Accounts/{at_twilio['account_sid']}/Messages/{at_twilio['sid']}.json"
    ]


@pytest.mark.django_db
def test_the_same_words_sent_to_the_same_number_before_are_not_taken_for_this_message(
    due_appointment, twilio, settings, eager_tasks, django_capture_on_commit_callbacks
):
    earlier = dispatched(due_appointment)
    assert delivery.send_message(earlier.pk) is None  # sent, and recorded with its id
    again = build_message(due_appointment, "invitation", "sms", now=timezone.now(), overrides={})
    again.save()
    assert again.body == Message.objects.get(pk=earlier.pk).body
    twilio.lose_next()
    no_answer(twilio, settings, again)

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep(after_the_sending_timeout()).resent == 1

    again.refresh_from_db()
    assert again.status == Status.SENT
    assert len(twilio.messages) == 2
    assert again.provider_id != Message.objects.get(pk=earlier.pk).provider_id


@pytest.mark.django_db
def test_while_twilio_cannot_say_the_message_waits_then_staff_see_it(
    due_appointment, twilio, settings
):
    message = dispatched(due_appointment)
    twilio.hold()
    no_answer(twilio, settings, message)
    twilio.hold_lookups()  # lookups hang too: past the read timeout

    assert delivery.sweep(after_the_sending_timeout()).unresolved == 1
    message.refresh_from_db()
    assert message.status == Status.SENDING

    much_later = timezone.now() + timedelta(hours=2)
    assert delivery.sweep(much_later).failed == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error.startswith("Interrupted while sending: it may or may not have")
    assert len(twilio.requests) == 1


@pytest.mark.django_db
def test_an_email_stuck_sending_is_surfaced_not_resent(due_appointment, settings):
    due_appointment.customer.preferred_channel = "email"
    due_appointment.customer.save()
    message = dispatched(due_appointment)
    assert message.channel == "email"
    # A worker claimed it and died before recording the outcome.
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempts=1, attempted_at=timezone.now()
    )
    assert delivery.send_message(message.pk) is None  # a redelivered task: not again

    assert delivery.sweep() == (0, 0, 0, 0, 0)  # not yet: it may still be sending
    assert delivery.sweep(after_the_sending_timeout()).failed == 1

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error.startswith("Interrupted while sending")
    checkin = OnlineCheckIn.objects.get(appointment=due_appointment)
    assert checkin.invitation_status == Invitation.FAILED
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_late_delivery_report_overrules_the_sweeps_guess(due_appointment, twilio, settings):
    message = dispatched(due_appointment)
    # Twilio cannot be asked, for longer than the sweep asks: it can only guess.
    settings.TWILIO_API_URL = "http://127.0.0.1:9"
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempted_at=timezone.now() - timedelta(hours=2)
    )
    assert delivery.sweep().failed == 1
    message.refresh_from_db()
    delivery.record_status(message, "delivered", provider_id="SM" + "c" * 32)
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.provider_id == "SM" + "c" * 32


@pytest.mark.django_db
def test_a_recorded_sms_with_no_outcome_is_sent_again_as_nothing_left_the_machine(
    due_appointment, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.SMS_TRANSPORT = "record"
    message = dispatched(due_appointment)
    Message.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempts=1, attempted_at=timezone.now() - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep().resent == 1

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)


@pytest.mark.django_db
def test_a_queued_message_whose_task_was_lost_is_queued_again_after_a_minute(
    due_appointment, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        message = dispatched(due_appointment)  # its task never ran (callbacks not executed)
        traveller.shift(timedelta(seconds=50))
        assert delivery.sweep().requeued == 0
        traveller.shift(timedelta(seconds=15))
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery.sweep().requeued == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(twilio.requests) == 1


@pytest.mark.django_db
def test_a_message_waiting_for_its_retry_is_not_queued_before_its_backoff(
    due_appointment, twilio, settings
):
    settings.MESSAGE_RETRY_SECONDS = 30
    twilio.answer(*twilio.error(503, 20503, "Service unavailable"))
    twilio.answer(*twilio.error(503, 20503, "Service unavailable"))
    message = dispatched(due_appointment)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert delivery.send_message(message.pk) == 30
        assert delivery.send_message(message.pk) == 60  # attempt 2: due in a minute
        traveller.shift(timedelta(seconds=60 + 55))
        assert delivery.sweep().requeued == 0
        traveller.shift(timedelta(seconds=10))
        assert delivery.sweep().requeued == 1


# --- Resend --------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_resend_an_invitation_and_it_shows_on_the_timeline(
    due_appointment, twilio, eager_tasks, django_capture_on_commit_callbacks
):
    staff = UserFactory(username="rita")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            dispatched(due_appointment)
        traveller.shift(timedelta(minutes=5))
        with pytest.raises(ResendTooSoon, match="less than 10 minutes ago"):
            resend_invitation(due_appointment, by=staff)

        traveller.shift(timedelta(minutes=6))
        with django_capture_on_commit_callbacks(execute=True):
            message = resend_invitation(due_appointment, by=staff)

    assert message.purpose == "invitation"
    assert message.channel == "sms"
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(twilio.requests) == 2
    event = due_appointment.events.get(kind=AppointmentEvent.Kind.INVITATION_RESENT)
    assert event.user == staff
    assert event.actor == "staff"


@pytest.mark.django_db
def test_a_resend_is_refused_for_a_cancelled_appointment_or_an_unreachable_customer(
    always_open,
):
    staff = UserFactory(username="rita")
    cancelled = AppointmentFactory(dealership=always_open, status=Appointment.Status.CANCELLED)
    with pytest.raises(CheckInClosed):
        resend_invitation(cancelled, by=staff)
    nobody = AppointmentFactory(
        dealership=always_open, customer=CustomerFactory(dealership=always_open, phone="", email="")
    )
    with pytest.raises(CustomerUnreachable):
        resend_invitation(nobody, by=staff)
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_email_that_the_server_refuses_for_a_while_is_retried(due_appointment, settings):
    settings.EMAIL_BACKEND = "tests.notifications.refusing_backend.BusyBackend"
    message = build_message(
        due_appointment, "invitation", "email", now=timezone.now(), overrides={}
    )
    message.save()
    assert delivery.send_message(message.pk) == 30
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert "E-mail server unavailable" in message.error
