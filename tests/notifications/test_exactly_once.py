"""Exactly once, with real Celery workers on the configured broker (Redis in CI) and the
test database (PostgreSQL in CI), sending through a local Twilio that counts requests."""

import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import ping
from notifications import compose, delivery, invitations
from notifications.models import Message
from notifications.tasks import send_message
from tests.conftest import (
    database_url_for_subprocess,
    purge_task_queues,
    start_celery_worker,
    stop_celery_worker,
    wait_until,
)
from tests.factories import AppointmentFactory, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

Status = Message.Status
ROOT = Path(__file__).resolve().parents[2]
ON_REDIS = os.environ.get("CELERY_BROKER_URL", "").startswith("redis")


def statuses() -> list[str]:
    return list(Message.objects.order_by("pk").values_list("status", flat=True))


def worker_idle_after_queue() -> None:
    """The (solo) worker takes the sending queue's tasks in order: once a ping sent down
    that queue comes back, it has run every send queued before it."""
    token = secrets.token_hex(4)
    assert ping.apply_async((token,), queue="send").get(timeout=60) == f"pong {token}"


def test_each_due_invitation_is_sent_once_by_a_real_worker(always_open, twilio, worker):
    appointments = [AppointmentFactory(dealership=always_open) for _ in range(5)]

    queued = invitations.dispatch_due_invitations()

    assert len(queued) == 5
    wait_until(lambda: statuses() == [Status.SENT] * 5, what="five sent")
    assert sorted(r["form"]["To"] for r in twilio.requests) == sorted(
        a.customer.phone.as_e164 for a in appointments
    )
    assert len(twilio.requests) == 5


def test_a_task_delivered_twice_sends_once(due_appointment, twilio, worker):
    (message,) = invitations.dispatch_due_invitations()
    wait_until(lambda: statuses() == [Status.SENT], what="sent")

    send_message.delay(message.pk)  # the broker delivers the same task again
    send_message.delay(message.pk)
    worker_idle_after_queue()

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1


def test_a_worker_killed_mid_send_never_sends_twice(due_appointment, twilio, worker):
    twilio.hold()
    (message,) = invitations.dispatch_due_invitations()
    assert twilio.received.wait(60), "the worker never called Twilio"
    task_ids = [
        line for line in worker.log_lines if "send_messages[" in line and "received" in line
    ]

    worker.kill()  # mid-send: Twilio has the request, nobody has the answer
    worker.wait(10)
    twilio.release()
    message.refresh_from_db()
    assert message.status == Status.SENDING

    time.sleep(3.5)  # past the visibility timeout: Redis hands the unacked task out again
    restarted = start_celery_worker(worker.extra_env)
    try:
        send_message.delay(message.pk)  # and, whatever the broker, a duplicate
        worker_idle_after_queue()
        if ON_REDIS:
            task_id = task_ids[0].split("send_messages[")[1].split("]")[0]
            redelivered = [line for line in restarted.log_lines if task_id in line]
            assert redelivered, "the broker did not deliver the unacknowledged task again"
    finally:
        stop_celery_worker(restarted)

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.SENDING
    # The sweep asks Twilio instead of guessing: it has the message, so it was sent.
    later = timezone.now() + timezone.timedelta(minutes=3)
    assert delivery.sweep(later).found == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id == twilio.messages[0]["sid"]
    assert len(twilio.requests) == 1


@pytest.fixture
def record_every_two(monkeypatch, settings):
    """Outcomes recorded two at a time, here and on the workers started after this."""
    monkeypatch.setenv("MESSAGE_RECORD_EVERY", "2")
    settings.MESSAGE_RECORD_EVERY = 2


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    always_open, record_every_two, twilio, worker
):
    appointments = [AppointmentFactory(dealership=always_open) for _ in range(5)]
    twilio.hold()
    queued = invitations.dispatch_due_invitations()  # one task for the five
    assert twilio.received.wait(60), "the worker never called Twilio"

    worker.kill()  # with the first of the batch at Twilio, the other four not begun
    worker.wait(10)
    twilio.release()
    assert statuses() == [Status.SENDING] * 5
    assert len(twilio.requests) == 1

    # The first two may have gone out: Twilio is asked about them; it has the first,
    # and the second goes again. The last three never began: they go as if new.
    later = timezone.now() + timezone.timedelta(minutes=3)
    swept = delivery.sweep(later)
    assert (swept.found, swept.resent, swept.requeued) == (1, 1, 3)

    restarted = start_celery_worker(worker.extra_env)
    try:
        wait_until(lambda: statuses() == [Status.SENT] * 5, what="all five sent")
        worker_idle_after_queue()  # and the task Redis hands out again did nothing
    finally:
        stop_celery_worker(restarted)

    assert sorted(r["form"]["To"] for r in twilio.requests) == sorted(
        a.customer.phone.as_e164 for a in appointments
    )
    attempts = dict(Message.objects.values_list("pk", "attempts"))
    assert [attempts[m.pk] for m in sorted(queued, key=lambda m: m.pk)] == [1, 2, 1, 1, 1]


def test_queuing_again_a_message_another_worker_is_sending_does_not_send_it_twice(
    due_appointment, twilio, worker
):
    second = start_celery_worker(worker.extra_env, queues=["send"])
    workers = [worker, second]
    try:
        twilio.hold()
        (message,) = invitations.dispatch_due_invitations()
        assert twilio.received.wait(60), "no worker called Twilio"
        # What the sweep does with a message it saw waiting: queue it again, while one
        # worker is in the middle of sending it. The other worker takes the task.
        compose.enqueue([message])
        wait_until(
            lambda: any(
                "send_messages[" in line and "succeeded" in line
                for process in workers
                for line in process.log_lines
            ),
            what="the other worker to run the second task",
        )
        twilio.release()
        wait_until(lambda: statuses() == [Status.SENT], what="sent")
    finally:
        stop_celery_worker(second)

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.attempts == 1


def test_a_passing_failure_is_retried_by_the_worker_then_sent(due_appointment, twilio, worker):
    twilio.answer(*twilio.error(503, 20503, "Service unavailable"))

    (message,) = invitations.dispatch_due_invitations()

    wait_until(lambda: statuses() == [Status.SENT], what="sent after a retry")
    message.refresh_from_db()
    assert message.attempts == 2
    assert len(twilio.requests) == 2


def test_retries_run_out_then_the_worker_falls_back_to_email(due_appointment, twilio, worker):
    for _ in range(3):  # MESSAGE_MAX_ATTEMPTS=3 on the worker
        twilio.answer(*twilio.error(500, 20500, "Internal server error"))

    (message,) = invitations.dispatch_due_invitations()

    wait_until(lambda: statuses() == [Status.FAILED, Status.SENT], what="fallback sent")
    message.refresh_from_db()
    assert message.attempts == 3
    assert message.error.startswith("Gave up after 3 attempts")
    assert message.fallback.channel == "email"
    assert len(twilio.requests) == 3


def test_two_dispatchers_at_once_queue_each_invitation_once(always_open, twilio, monkeypatch):
    monkeypatch.setattr(invitations, "BATCH_SIZE", 15)
    for _ in range(90):
        AppointmentFactory(dealership=always_open, customer=CustomerFactory(dealership=always_open))
    start = threading.Barrier(2)
    results: list[list[Message]] = []

    def dispatcher() -> None:
        try:
            start.wait()
            results.append(invitations.dispatch_due_invitations())
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    purge_task_queues()  # no worker here: drop the send tasks
    queued = [m.appointment_id for run in results for m in run]
    assert len(queued) == 90 == len(set(queued))
    assert Message.objects.count() == 90
    assert Message.objects.values("appointment").distinct().count() == 90


def test_two_dispatcher_processes_at_once_queue_each_invitation_once(always_open, twilio):
    for _ in range(150):
        AppointmentFactory(dealership=always_open, customer=CustomerFactory(dealership=always_open))
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess()}
    command = [sys.executable, "manage.py", "send_due_invitations"]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    purge_task_queues()

    lines = [line for out in outputs for line in out.splitlines() if "->" in line]
    assert len(lines) == 150 == len(set(lines))
    assert Message.objects.count() == 150
    assert Message.objects.values("appointment").distinct().count() == 150
