"""Celery tasks for the customer's side. Thin: the work is in `portal.uploads`."""

from celery import shared_task

from portal import uploads


@shared_task(
    name="portal.process_attachment",
    autoretry_for=uploads.STORAGE_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def process_attachment(attachment_id: int) -> str:
    """Checks an uploaded photo or video by its content; see `uploads.process_attachment`."""
    return uploads.process_attachment(attachment_id)
