"""The per-appointment reply address: every e-mail we send says "reply to
reply+<key>@<domain>", and a mail that comes back to it belongs to that appointment.

The key is random (`models.new_reply_key`, 120 bits), stored once per appointment
(`ReplyAddress`, unique), and never derived from anything else, so one customer's
address tells nothing about another's.
"""

import re

from django.conf import settings

from notifications.models import ReplyAddress
from workshop.models import Appointment


def _mailbox() -> tuple[str, str]:
    local, _at, domain = settings.INBOUND_EMAIL_ADDRESS.partition("@")
    return local, domain


def reply_address(appointment: Appointment) -> str:
    """reply+<key>@domain for the appointment; its key is made on first use."""
    key = ReplyAddress.objects.get_or_create(appointment=appointment)[0].key
    local, domain = _mailbox()
    return f"{local}+{key}@{domain}"


def key_in(address: str) -> str:
    """The reply key in an address of our mailbox ("" if it is not one), whatever the
    domain: a mail forwarded from an older domain still finds its appointment."""
    local, _domain = _mailbox()
    found = re.fullmatch(
        rf"{re.escape(local)}\+([a-z2-7]{{8,32}})@[^@\s]+", address.strip(), re.IGNORECASE
    )
    return found.group(1).lower() if found else ""
