"""E-mail backends that answer as a real SMTP server does when it says no."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        recipients = {r: (550, b"5.1.1 No such user") for m in email_messages for r in m.to}
        raise smtplib.SMTPRecipientsRefused(recipients)


class BusyBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class AnymailRefusingBackend(BaseEmailBackend):
    """A django-anymail provider that rejects every recipient (hard bounce, spam list)."""

    def send_messages(self, email_messages):
        from anymail.exceptions import AnymailRecipientsRefused

        raise AnymailRecipientsRefused("All message recipients were rejected")


class AnymailDownBackend(BaseEmailBackend):
    """A django-anymail provider whose API answers with a server error."""

    def send_messages(self, email_messages):
        from anymail.exceptions import AnymailAPIError

        raise AnymailAPIError("Provider API returned 503 Service Unavailable")
