"""Celery tasks of the workshop: thin, they call the flow modules."""

from celery import shared_task

from workshop import summary


@shared_task(name="workshop.morning_summaries", ignore_result=True)
def morning_summaries() -> None:
    """Run by beat every MORNING_SUMMARY_SECONDS: the summaries whose morning has come."""
    summary.send_due_summaries()
