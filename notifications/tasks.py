"""Celery tasks: thin, they take ids and call the notification functions."""

from celery import shared_task

from notifications import delivery, invitations


@shared_task(bind=True, name="notifications.send_message", ignore_result=True)
def send_message(self, message_id: int) -> None:
    retry_in = delivery.send_message(message_id)
    if retry_in is not None:
        # The attempt limit lives on the message row, not in Celery's retry counter,
        # which a redelivered task would start again from zero.
        raise self.retry(countdown=retry_in, max_retries=None)


@shared_task(name="notifications.dispatch", ignore_result=True)
def dispatch() -> None:
    """Run by beat every INVITATION_DISPATCH_SECONDS."""
    invitations.dispatch_due_invitations()
    invitations.dispatch_due_reminders()
    delivery.sweep()


@shared_task(name="notifications.noop", ignore_result=True)
def noop(number: int = 0) -> None:
    """Does nothing: the baseline `benchmarks/dispatch` compares sending with."""
