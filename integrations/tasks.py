"""Celery tasks: thin, they take ids and call the integration functions."""

from celery import shared_task
from django.utils import timezone

from config.celery import RETRY_ON_DATABASE_ERRORS
from integrations import webhooks


@shared_task(
    bind=True, name="integrations.deliver_webhook", ignore_result=True, **RETRY_ON_DATABASE_ERRORS
)
def deliver_webhook(self, delivery_id: int) -> None:
    retry_at = webhooks.deliver(delivery_id)
    if retry_at is not None:
        # The attempt count lives on the row, not in Celery's retry counter.
        countdown = max((retry_at - timezone.now()).total_seconds(), 0)
        raise self.retry(countdown=countdown, max_retries=None)


@shared_task(name="integrations.sweep_webhooks", ignore_result=True)
def sweep_webhooks() -> None:
    """Run by beat every SWEEP_SECONDS."""
    webhooks.sweep()
