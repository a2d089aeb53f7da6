"""Sending in batches: one claim and one load per batch, the outcomes recorded a few at a
time, a deadline that lets the rest go, Twilio's words read by the Twilio transport, and
a django-anymail provider's errors told apart by class."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import compose, delivery, invitations
from notifications.models import Message
from notifications.transports import EmailTransport, Outcome, TransportError, TwilioTransport
from tests.factories import AppointmentFactory
from workshop.models import OnlineCheckIn

Status = Message.Status
Invitation = OnlineCheckIn.InvitationStatus

pytestmark = pytest.mark.django_db


def due_invitations(dealership, count: int) -> list[int]:
    """`count` invitations queued by the dispatcher (their tasks are not run)."""
    for _ in range(count):
        AppointmentFactory(dealership=dealership)
    return sorted(message.pk for message in invitations.dispatch_due_invitations())


def test_a_batch_sends_each_message_once_however_often_it_runs(always_open, twilio):
    ids = due_invitations(always_open, 4)

    first = delivery.send_messages(ids)
    again = delivery.send_messages(ids)  # the broker delivers the task again

    assert first == again == delivery.Sending({}, [])
    assert len(twilio.requests) == 4
    rows = Message.objects.filter(pk__in=ids)
    assert {(m.status, m.attempts, m.claim) for m in rows} == {(Status.SENT, 1, None)}
    assert len({m.provider_id for m in rows}) == 4
    assert set(OnlineCheckIn.objects.values_list("invitation_status", flat=True)) == {
        Invitation.SENT
    }
    assert not OnlineCheckIn.objects.filter(invited_at__isnull=True).exists()


@pytest.mark.parametrize("size", [3, 12])
def test_a_batch_runs_the_same_queries_whatever_its_size(
    always_open, settings, monkeypatch, django_assert_num_queries, size
):
    settings.SMS_TRANSPORT = "record"
    monkeypatch.setattr(delivery, "RECORD_SECONDS", 3600)  # a slow machine records no sooner
    ids = due_invitations(always_open, size)

    # Claim, load; then one transaction (savepoint here): sent messages, their invitations.
    with django_assert_num_queries(6):
        delivery.send_messages(ids)

    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}


def test_outcomes_are_recorded_every_so_many_messages(always_open, settings, monkeypatch):
    settings.SMS_TRANSPORT = "record"
    settings.MESSAGE_RECORD_EVERY = 2
    monkeypatch.setattr(delivery, "RECORD_SECONDS", 3600)
    ids = due_invitations(always_open, 5)
    seen: list[list[str]] = []
    record = delivery._Batch.record

    def watched(batch) -> None:
        record(batch)
        seen.append(list(Message.objects.order_by("pk").values_list("status", flat=True)))

    monkeypatch.setattr(delivery._Batch, "record", watched)
    delivery.send_messages(ids)

    sent, sending = Status.SENT, Status.SENDING
    assert seen[:3] == [
        [sent, sent, sending, sending, sending],
        [sent, sent, sent, sent, sending],
        [sent] * 5,
    ]


def test_a_batch_past_its_deadline_lets_the_rest_go_unsent(always_open, twilio):
    ids = due_invitations(always_open, 3)

    outcome = delivery.send_messages(ids, deadline=time.monotonic() - 1)

    assert outcome == delivery.Sending({}, ids)
    assert twilio.requests == []
    rows = Message.objects.filter(pk__in=ids)
    assert {(m.status, m.attempts, m.claim) for m in rows} == {(Status.QUEUED, 0, None)}


def test_a_passing_failure_in_a_batch_is_tried_again_alone(always_open, twilio, settings):
    settings.MESSAGE_RETRY_SECONDS = 30
    ids = due_invitations(always_open, 3)
    twilio.answer(201, twilio.created({"To": "+32470000000", "Body": "x"}))
    twilio.answer(*twilio.error(503, 20503, "Service unavailable"))

    outcome = delivery.send_messages(ids)

    assert outcome == delivery.Sending({30: [ids[1]]}, [])
    statuses = list(Message.objects.order_by("pk").values_list("status", "error"))
    assert statuses == [
        (Status.SENT, ""),
        (Status.QUEUED, "Attempt 1: Twilio 503 error 20503: Service unavailable"),
        (Status.SENT, ""),
    ]


def test_the_sweep_sends_again_what_a_dead_batch_never_began_and_asks_about_the_rest(
    always_open, twilio, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.MESSAGE_RECORD_EVERY = 2
    ids = due_invitations(always_open, 5)
    # A worker claimed the batch, handed the first to Twilio and died before recording.
    Message.objects.filter(pk__in=ids).update(
        status=Status.SENDING,
        attempts=1,
        attempted_at=timezone.now() - timedelta(minutes=5),
        claim="0" * 31 + "1",
    )
    first = Message.objects.get(pk=ids[0])
    twilio.messages.append(
        twilio.created({"To": first.recipient, "From": first.sender, "Body": first.body})
    )

    with django_capture_on_commit_callbacks(execute=True):
        swept = delivery.sweep()

    # The first two may have gone: Twilio has the first (found), not the second (sent
    # again, its second attempt). The last three never began: sent as if new.
    assert (swept.found, swept.resent, swept.requeued) == (1, 1, 3)
    rows = list(Message.objects.order_by("pk").values_list("status", "attempts", "claim"))
    assert rows == [(Status.SENT, 1, None), (Status.SENT, 2, None)] + [(Status.SENT, 1, None)] * 3
    assert len(twilio.requests) == 4  # every customer once: four sends, one found


def test_a_dead_batch_stops_asking_at_an_email(always_open, settings):
    settings.MESSAGE_RECORD_EVERY = 50
    ids = due_invitations(always_open, 3)
    Message.objects.filter(pk=ids[0]).update(channel="email")
    Message.objects.filter(pk__in=ids).update(
        status=Status.SENDING,
        attempts=1,
        attempted_at=timezone.now() - timedelta(minutes=5),
        claim="0" * 31 + "2",
    )

    assert delivery.release_unstarted(timezone.now()) == 2

    # The e-mail's outcome would have been recorded before the next send began: it
    # alone may have gone, and cannot be asked; the two after it never began.
    rows = list(Message.objects.order_by("pk").values_list("status", "attempts", "claim"))
    assert rows == [(Status.SENDING, 1, None), (Status.QUEUED, 0, None), (Status.QUEUED, 0, None)]


def test_send_tasks_carry_a_batch_of_messages_once_committed(
    monkeypatch, django_capture_on_commit_callbacks
):
    published: list[tuple[str, list]] = []
    monkeypatch.setattr(compose, "publish", lambda name, calls: published.append((name, calls)))
    monkeypatch.setattr(compose, "SEND_BATCH", 2)

    with django_capture_on_commit_callbacks(execute=True):
        compose.enqueue([Message(pk=pk) for pk in (5, 6, 7, 8, 9)])
        assert published == []  # not before the rows are committed

    assert published == [("notifications.send_messages", [([5, 6],), ([7, 8],), ([9],)])]


# --- What a provider says, read by its transport -------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "outcome", "opted_out"),
    [
        ("queued", "", Outcome.SENT, False),
        ("sent", "", Outcome.SENT, False),
        ("delivered", "", Outcome.DELIVERED, False),
        ("read", "", Outcome.DELIVERED, False),
        ("undelivered", "30003", Outcome.FAILED, False),
        ("failed", "21610", Outcome.FAILED, True),
    ],
)
def test_the_twilio_transport_reads_twilios_statuses(status, code, outcome, opted_out):
    report = TwilioTransport.report(status, code)

    assert report is not None
    assert (report.outcome, report.opted_out) == (outcome, opted_out)
    if outcome == Outcome.FAILED:
        assert report.reason == f"Twilio: {status}, error {code}"


def test_a_status_twilio_has_not_documented_is_ignored():
    assert TwilioTransport.report("teleported") is None


@pytest.mark.parametrize(
    ("code", "permanent", "opted_out"),
    [("21610", True, True), ("30007", True, False), ("20429", False, False)],
)
def test_the_twilio_transport_tells_what_an_error_code_means(
    due_appointment, twilio, code, permanent, opted_out
):
    status = 429 if code == "20429" else 400
    twilio.answer(*twilio.error(status, int(code), "No"))
    message = compose.build_message(
        due_appointment, "invitation", "sms", now=timezone.now(), overrides={}
    )

    with pytest.raises(TransportError) as raised:
        TwilioTransport().send(message)

    assert (raised.value.permanent, raised.value.opted_out, raised.value.code) == (
        permanent,
        opted_out,
        code,
    )


# --- A django-anymail provider's errors, by class ------------------------------------


def test_an_address_an_anymail_provider_refuses_fails_for_good(due_appointment, settings):
    settings.EMAIL_BACKEND = "tests.notifications.refusing_backend.AnymailRefusingBackend"
    message = compose.build_message(
        due_appointment, "invitation", "email", now=timezone.now(), overrides={}
    )

    with pytest.raises(TransportError) as raised:
        EmailTransport().send(message)

    assert raised.value.permanent
    assert str(raised.value).startswith("Address refused")


def test_an_anymail_provider_that_is_down_is_tried_again(due_appointment, settings):
    settings.EMAIL_BACKEND = "tests.notifications.refusing_backend.AnymailDownBackend"
    message = compose.build_message(
        due_appointment, "invitation", "email", now=timezone.now(), overrides={}
    )
    message.save()

    assert delivery.send_message(message.pk) == settings.MESSAGE_RETRY_SECONDS

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert "E-mail provider error: Provider API returned 503" in message.error
