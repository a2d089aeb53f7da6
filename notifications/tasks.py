"""Celery tasks: thin, they take ids and call the notification functions.

Sending runs on its own queue ("send", see CELERY_TASK_ROUTES) and worker, so a provider
that hangs cannot hold up dispatch, the sweeps and photo checks on the default queue.
"""

import time

import requests
from celery import shared_task
from django.conf import settings

from config.celery import RETRY_ON_DATABASE_ERRORS, publish
from notifications import delivery, invitations, media, visit_news

# Stopped (prefork pool) well before the sweep takes a message still "sending" for one
# whose worker died, so the two never overlap.
SEND_TIME_LIMIT = settings.MESSAGE_SENDING_TIMEOUT_MINUTES * 30


@shared_task(
    bind=True,
    name="notifications.send_message",
    ignore_result=True,
    time_limit=SEND_TIME_LIMIT,
    **RETRY_ON_DATABASE_ERRORS,
)
def send_message(self, message_id: int) -> None:
    """One message (a staff resend, a task queued before batches)."""
    retry_in = delivery.send_message(message_id)
    if retry_in is not None:
        # The attempt limit lives on the message row, not in Celery's retry counter,
        # which a redelivered task would start again from zero.
        raise self.retry(countdown=retry_in, max_retries=None)


@shared_task(
    name="notifications.send_messages",
    ignore_result=True,
    time_limit=SEND_TIME_LIMIT,
    **RETRY_ON_DATABASE_ERRORS,
)
def send_messages(message_ids: list[int]) -> None:
    """A batch of messages (`compose.enqueue`). It begins no new send after half its
    time limit: the rest are queued again at once, as another task."""
    outcome = delivery.send_messages(message_ids, deadline=time.monotonic() + SEND_TIME_LIMIT / 2)
    if outcome.released:
        publish("notifications.send_messages", [(outcome.released,)])
    for wait, ids in outcome.retry.items():
        # The attempt limit lives on the message rows, not in Celery's retry counter.
        publish("notifications.send_messages", [(ids,)], countdown=wait)


@shared_task(name="notifications.dispatch", ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def dispatch() -> None:
    """Run by beat every INVITATION_DISPATCH_SECONDS."""
    invitations.dispatch_due_invitations()
    invitations.dispatch_due_reminders()
    invitations.dispatch_due_confirmation_requests()


@shared_task(name="notifications.request_reviews", ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def request_reviews() -> None:
    """Run by beat every INVITATION_DISPATCH_SECONDS: the review requests now due."""
    visit_news.request_reviews()


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> None:
    """Run by beat every SWEEP_SECONDS: messages whose send was lost, or has no outcome."""
    delivery.sweep()


@shared_task(name="notifications.noop", ignore_result=True)
def noop(number: int = 0) -> None:
    """Does nothing: the baseline `benchmarks/dispatch` compares sending with."""


@shared_task(name="notifications.tell_advisor", ignore_result=True)
def tell_advisor(message_id: int) -> None:
    """The advisor's e-mail that their customer wrote (opt-in, best effort)."""
    from notifications import conversation

    conversation.tell_advisor(message_id)


@shared_task(
    bind=True,
    name="notifications.fetch_media",
    ignore_result=True,
    autoretry_for=(requests.RequestException,),
    retry_backoff=30,
    max_retries=5,
)
def fetch_media(self, message_id: int) -> None:
    """A customer's MMS pictures, from the provider into the conversation."""
    media.fetch_media(message_id)
