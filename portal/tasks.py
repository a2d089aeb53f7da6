"""Celery tasks for the customer's side. Thin: the work is in `portal.uploads.processing`."""

from celery import shared_task
from django.conf import settings

from config.celery import DATABASE_ERRORS, RETRY_ON_DATABASE_ERRORS
from portal.uploads import processing


@shared_task(
    name="portal.process_attachment",
    # The store or the database failing for a while; past the retries, the sweep.
    autoretry_for=(*processing.STORAGE_ERRORS, *DATABASE_ERRORS),
    retry_backoff=True,
    max_retries=5,
    # A check that runs longer is stopped (prefork pool); the sweep counts it interrupted.
    time_limit=settings.ATTACHMENT_CHECK_SECONDS,
)
def process_attachment(attachment_id: int) -> str:
    """Checks an uploaded photo or video by its content; see `processing.process_attachment`."""
    return processing.process_attachment(attachment_id)


@shared_task(name="portal.sweep_attachments", ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def sweep_attachments() -> None:
    """Run by beat every SWEEP_SECONDS: queues again the checks that were lost."""
    processing.sweep()
