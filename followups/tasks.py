"""Celery tasks: thin, they call the follow-up functions (beat runs them)."""

from celery import shared_task

from config.celery import RETRY_ON_DATABASE_ERRORS
from followups import attempts, opening


@shared_task(name="followups.sweep", ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def sweep() -> None:
    """Unopened invitations a set number of days before, and missed call-backs."""
    opening.open_not_opened()
    attempts.sweep_missed_call_backs()
