"""Transports: one class per channel and provider, each with one method, `send(message)`.

`send` either returns what the provider told us (`Sent`) or raises `TransportError`:
`permanent=True` for what no retry will fix (an invalid number, a refused address, an
opted-out recipient), `permanent=False` for an outage worth retrying. `DeliveryUnknown`
says the request may or may not have gone out; it is neither retried nor followed by a
fallback, so the customer never gets a message twice. A provider that can be asked
afterwards what it has (Twilio) also has `find(message)`: the sweep asks it before it
decides to send such a message again (`finder_for`).
"""

import base64
import hashlib
import hmac
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr, parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from urllib3.exceptions import NameResolutionError, NewConnectionError

from notifications.reply_to import reply_address
from workshop.models import Appointment, Channel

if TYPE_CHECKING:
    from notifications.models import Message


class TransportError(Exception):
    """`permanent`: no retry fixes it. `opted_out`: the recipient told the provider to
    stop (an SMS "STOP"); delivery stops texting every customer with that number."""

    def __init__(
        self, reason: str, *, permanent: bool = False, code: str = "", opted_out: bool = False
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent or opted_out
        self.code = code
        self.opted_out = opted_out


class DeliveryUnknown(TransportError):
    """The provider may have accepted the message: retrying could send it twice."""


@dataclass(frozen=True)
class Sent:
    provider_id: str = ""


class Outcome(StrEnum):
    """What a provider's status report means, in delivery's words."""

    SENT = "sent"  # the provider has it and is on its way to, or at, the handset
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Report:
    """A provider's status report translated by its transport (`report`)."""

    outcome: Outcome
    reason: str = ""  # why it failed, in the provider's words and codes
    opted_out: bool = False


@dataclass(frozen=True)
class Found:
    """A message the provider has, that may be the one we had no answer for."""

    provider_id: str
    status: str  # in the provider's words (Twilio: queued, sent, delivered, failed...)


class Transport(Protocol):
    def send(self, message: "Message") -> Sent: ...


class Finder(Protocol):
    def find(self, message: "Message") -> list[Found]: ...


# --- E-mail ------------------------------------------------------------------------


def email_sender(dealership_name: str) -> str:
    """From the dealership by name, at our own address (theirs would fail SPF and DKIM)."""
    return formataddr((dealership_name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


# The booking confirmation and the move carry the appointment for the customer's calendar.
CALENDAR_PURPOSES = frozenset({"booked", "moved"})


def calendar_attachment(appointment: Appointment) -> tuple[str, bytes, str]:
    """The appointment as it is when the e-mail goes, as an .ics (`portal.ics`): the
    same UID each time, a SEQUENCE that grows with each move, so calendars update."""
    from portal.ics import appointment_ics

    host = urlsplit(settings.SITE_URL).hostname or "pitlane"
    return (
        "appointment.ics",
        appointment_ics(appointment, host),
        "text/calendar; charset=utf-8; method=PUBLISH",
    )


class EmailTransport:
    """Any Django e-mail backend: SMTP, a django-anymail provider, or files under var/."""

    def send(self, message: "Message") -> Sent:
        appointment = message.appointment
        assert appointment is not None
        dealership = appointment.dealership
        message_id = f"<{message.callback_key}@pitlane>"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=message.sender or email_sender(dealership.name),
            to=[message.recipient],
            reply_to=[reply_address(appointment)],
            headers={"Message-ID": message_id},
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        if message.purpose in CALENDAR_PURPOSES:
            email.attach(*calendar_attachment(appointment))
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as error:
            raise TransportError(f"Address refused: {error.recipients}", permanent=True) from None
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
            # 5xx is the server's final word on this message; 4xx asks us to try later.
            code = error.smtp_code
            raise TransportError(
                f"SMTP {code}: {error.smtp_error!r}", permanent=500 <= code < 600, code=str(code)
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(f"E-mail server unavailable: {error}") from None
        except AnymailRecipientsRefused as error:
            raise TransportError(f"Address refused: {error}", permanent=True) from None
        except AnymailError as error:
            # The provider's API refused or failed the request: worth trying again
            # (a refused address, the one final answer, is caught above).
            raise TransportError(f"E-mail provider error: {error}") from None
        return Sent(provider_id=message_id)


# --- SMS -----------------------------------------------------------------------------


class RecordingSmsTransport:
    """The embedded default: the message row is the record; nothing leaves the machine."""

    def send(self, message: "Message") -> Sent:
        return Sent()

    def find(self, message: "Message") -> list[Found]:
        """Nothing left the machine: a send with no outcome recorded may be done again."""
        return []


# Twilio error codes that no retry fixes (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = {
    21211,  # invalid 'To' phone number
    21214,  # 'To' phone number cannot be reached
    21217,  # phone number does not appear to be valid
    21401,  # invalid phone number
    21407,  # this phone number type does not support SMS
    21408,  # permission to send an SMS has not been enabled for the region
    21610,  # attempt to send to unsubscribed recipient (they replied STOP)
    21612,  # the 'To' phone number is not currently reachable via SMS
    21614,  # 'To' number is not a valid mobile number
    30003,  # unreachable destination handset
    30004,  # message blocked
    30005,  # unknown destination handset
    30006,  # landline or unreachable carrier
    30007,  # carrier filtering
    30008,  # unknown error from the carrier
}
UNSUBSCRIBED = "21610"
# Twilio's message statuses (https://www.twilio.com/docs/messaging/api/message-resource).
STATUSES = {
    "accepted": Outcome.SENT,
    "scheduled": Outcome.SENT,
    "queued": Outcome.SENT,
    "sending": Outcome.SENT,
    "sent": Outcome.SENT,
    "delivered": Outcome.DELIVERED,
    "read": Outcome.DELIVERED,
    "undelivered": Outcome.FAILED,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}


def twilio_status_callback_url(message: "Message") -> str:
    return settings.SITE_URL + reverse("notifications:twilio_status", args=[message.callback_key])


def _never_reached(error: requests.ConnectionError) -> bool:
    """True when the request cannot have reached the provider (no connection made)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


class TwilioTransport:
    """Twilio's Messages API over HTTPS, with a status callback per message."""

    # How far Twilio's clock may be behind ours when we look for a message it has.
    CLOCK_SKEW = timedelta(minutes=5)
    PAGE_SIZE = 100
    MAX_PAGES = 5

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        api_url: str | None = None,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
    ) -> None:
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.api_url = (api_url or settings.TWILIO_API_URL).rstrip("/")
        self.messaging_service_sid = messaging_service_sid or settings.TWILIO_MESSAGING_SERVICE_SID
        self.from_number = from_number or settings.TWILIO_FROM_NUMBER
        # Short, so a provider that hangs holds a sending slot for seconds, not minutes.
        self.timeout = (
            settings.TWILIO_CONNECT_TIMEOUT_SECONDS,
            settings.TWILIO_READ_TIMEOUT_SECONDS,
        )

    @property
    def endpoint(self) -> str:
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def payload(self, message: "Message") -> dict[str, str]:
        data = {
            "To": message.recipient,
            "Body": message.body,
            "StatusCallback": twilio_status_callback_url(message),
        }
        if self.messaging_service_sid:
            data["MessagingServiceSid"] = self.messaging_service_sid
        else:
            data["From"] = self.from_number
        return data

    def send(self, message: "Message") -> Sent:
        try:
            response = requests.post(
                self.endpoint,
                data=self.payload(message),
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
            )
        except requests.ConnectionError as error:
            if _never_reached(error):
                raise TransportError(f"Twilio unreachable: {error}") from None
            raise DeliveryUnknown(f"Twilio did not answer: {error}") from None
        except requests.Timeout as error:
            raise DeliveryUnknown(f"Twilio did not answer in time: {error}") from None
        except requests.RequestException as error:
            raise TransportError(f"Twilio request failed: {error}") from None

        body = _json(response)
        if response.status_code in (200, 201) and body.get("sid"):
            return Sent(provider_id=str(body["sid"]))
        code = str(body.get("code") or "")
        reason = f"Twilio {response.status_code}" + (f" error {code}" if code else "")
        if body.get("message"):
            reason += f": {body['message']}"
        retry = response.status_code >= 500 or response.status_code in (401, 403, 408, 429)
        permanent = (code.isdigit() and int(code) in PERMANENT_CODES) or not retry
        raise TransportError(reason, permanent=permanent, code=code, opted_out=code == UNSUBSCRIBED)

    @staticmethod
    def report(provider_status: str, error_code: str = "") -> Report | None:
        """A status Twilio reported (status callback, or a lookup) in delivery's words;
        None for a status we do not know, which is ignored."""
        outcome = STATUSES.get(provider_status.lower())
        if outcome is None:
            return None
        if outcome != Outcome.FAILED:
            return Report(outcome)
        reason = f"Twilio: {provider_status}" + (f", error {error_code}" if error_code else "")
        return Report(outcome, reason, opted_out=error_code == UNSUBSCRIBED)

    def find(self, message: "Message") -> list[Found]:
        """The messages Twilio has that may be this one, whose send got no answer: by its
        SID if one came back, else those to its recipient, with its text, created since
        the attempt began (newest first). Empty: Twilio never got it.

        Not by `DateSent`: a message Twilio has taken but not yet sent has no sent date,
        and would be missed. Raises `TransportError` when Twilio cannot tell us now.
        """
        if message.provider_id:
            found = self._get(f"{self.endpoint.removesuffix('.json')}/{message.provider_id}.json")
            return [Found(str(found["sid"]), str(found.get("status") or ""))] if found else []
        assert message.attempted_at is not None
        since = message.attempted_at - self.CLOCK_SKEW
        params = {"To": message.recipient, "PageSize": str(self.PAGE_SIZE)}
        if not self.messaging_service_sid:
            params["From"] = self.from_number
        url: str | None = self.endpoint
        candidates: list[Found] = []
        for _page in range(self.MAX_PAGES):
            page = self._get(url or "", params) or {}
            for resource in page.get("messages") or []:
                if parsedate_to_datetime(resource["date_created"]) < since:
                    return candidates  # newest first: the rest are older still
                if (resource.get("body") or "").strip() == message.body.strip():
                    candidates.append(
                        Found(str(resource["sid"]), str(resource.get("status") or ""))
                    )
            next_page = page.get("next_page_uri")
            if not next_page:
                return candidates
            url, params = self.api_url + next_page, {}
        raise TransportError(
            f"Twilio lists more than {self.MAX_PAGES} pages for {message.recipient}"
        )

    def _get(self, url: str, params: Mapping[str, str] | None = None) -> dict | None:
        """A resource or page from Twilio's API; None if it does not exist (404)."""
        try:
            response = requests.get(
                url, params=params, auth=(self.account_sid, self.auth_token), timeout=self.timeout
            )
        except requests.RequestException as error:
            raise TransportError(f"Twilio did not answer a lookup: {error}") from None
        if response.status_code == 404:
            return None
        body = _json(response)
        if response.status_code != 200:
            raise TransportError(
                f"Twilio {response.status_code} to a lookup: {body.get('message', '')}"
            )
        return body


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def transport_for(channel: str) -> Transport:
    if channel == Channel.EMAIL:
        return EmailTransport()
    if settings.SMS_TRANSPORT == "twilio":
        return TwilioTransport()
    return RecordingSmsTransport()


def finder_for(channel: str) -> Finder | None:
    """The transport that can say whether a message went out, if the channel has one.
    E-mail cannot: an SMTP server keeps no record we can ask for. The recording SMS
    transport can: nothing ever left."""
    if channel == Channel.SMS:
        return TwilioTransport() if settings.SMS_TRANSPORT == "twilio" else RecordingSmsTransport()
    return None


def can_ask(channel: str) -> bool:
    """Whether, after a send with no answer, the channel's transport can be asked if it
    has the message (`finder_for`)."""
    return finder_for(channel) is not None


def report_for(channel: str, provider_status: str, error_code: str = "") -> Report | None:
    """A provider's status report for a message on `channel`, in delivery's words; None
    for one we cannot read. SMS statuses come from Twilio's status callback or lookup."""
    if channel == Channel.SMS:
        return TwilioTransport.report(provider_status, error_code)
    return None


def sms_sender() -> str:
    if settings.SMS_TRANSPORT == "twilio":
        return settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID
    return ""


# --- Twilio's request signature (https://www.twilio.com/docs/usage/security) -------


def _param_pairs(params: Mapping[str, object]) -> Iterable[tuple[str, str]]:
    getlist = getattr(params, "getlist", None)
    for name in sorted(set(params)):
        values = getlist(name) if getlist else params[name]
        if isinstance(values, str) or not isinstance(values, list | tuple):
            values = [values]
        for value in sorted(set(map(str, values))):
            yield name, value


def twilio_signature(auth_token: str, url: str, params: Mapping[str, object]) -> str:
    """HMAC-SHA1 over the full URL and the POST parameters sorted by name, base64."""
    payload = url + "".join(name + value for name, value in _param_pairs(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_and_without_port(url: str) -> list[str]:
    # Twilio may sign the URL with or without the default port; its own helpers try both.
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    without = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default_port}"))
    return list(dict.fromkeys([url, without, with_port]))


def twilio_signature_valid(
    auth_token: str, url: str, params: Mapping[str, object], signature: str
) -> bool:
    if not (auth_token and signature):
        return False
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, params), signature)
        for candidate in _with_and_without_port(url)
    )
