"""Staff sessions last a working day from the log-in, however busy."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone


def end_session_after_a_working_day(sender, request: HttpRequest, user, **kwargs) -> None:
    """Fixes the session's end at the log-in (connected to `user_logged_in`).

    Django's session expiry slides: every save pushes it out by SESSION_COOKIE_AGE. A
    fixed end date instead is kept by every later save; the session store refuses the
    session after it, and the cookie expires with it.
    """
    request.session.set_expiry(timezone.now() + timedelta(hours=settings.STAFF_SESSION_HOURS))
