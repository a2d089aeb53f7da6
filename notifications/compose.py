"""Putting a message together: who gets it, by which channel, saying what."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.celery import publish
from notifications import texts, transports
from notifications.models import Message, MessageText
from workshop.models import Appointment, Channel, Customer, Dealership

OverrideKey = tuple[int, str, str, str]


def overrides_for(dealership_ids: Iterable[int]) -> dict[OverrideKey, MessageText]:
    """The dealerships' own texts, by (dealership, purpose, channel, language); one query."""
    return {
        (text.dealership_id, text.purpose, text.channel, text.language): text
        for text in MessageText.objects.filter(dealership_id__in=list(dealership_ids))
    }


def address_for(customer: Customer, channel: str) -> str:
    if channel == Channel.SMS:
        return customer.phone_e164
    return customer.email


def sender_for(channel: str, dealership: Dealership) -> str:
    if channel == Channel.SMS:
        return transports.sms_sender()
    return transports.email_sender(dealership.name)


def build_message(
    appointment: Appointment,
    purpose: str,
    channel: str,
    *,
    now: datetime,
    overrides: dict[OverrideKey, MessageText],
    confirmation: texts.Confirmation | None = None,
    fallback_for: Message | None = None,
    facts: dict[str, str] | None = None,
) -> Message:
    """An unsaved, queued message. `appointment` comes with dealership, customer,
    vehicle and checkin loaded, so building costs no queries."""
    language = texts.language_for(appointment)
    override = overrides.get((appointment.dealership_id, purpose, channel, language))
    rendered = texts.render(
        purpose,
        channel,
        appointment,
        language=language,
        override=override,
        confirmation=confirmation,
        facts=facts,
    )
    return Message(
        appointment=appointment,
        customer=appointment.customer,
        channel=channel,
        direction=Message.Direction.OUT,
        purpose=purpose,
        language=language,
        recipient=address_for(appointment.customer, channel),
        sender=sender_for(channel, appointment.dealership),
        subject=rendered.subject,
        body=rendered.text,
        html_body=rendered.html,
        status=Message.Status.QUEUED,
        queued_at=now,
        fallback_for=fallback_for,
    )


def build_preferred(
    appointment: Appointment, purpose: str, *, now: datetime, **kwargs: Any
) -> Message | None:
    """`build_message` by the customer's preferred channel, or their other one when we
    may not use it (`Customer.channels_to_try`); None when we may use neither."""
    usable = appointment.customer.channels_to_try()
    if not usable:
        return None
    return build_message(appointment, purpose, usable[0], now=now, **kwargs)


def rerender(message: Message, appointment: Appointment, confirmation=None) -> None:
    """Brings a queued message up to date with its appointment (moved, new address)."""
    fresh = build_message(
        appointment,
        message.purpose,
        message.channel,
        now=message.queued_at,
        overrides=overrides_for([appointment.dealership_id]),
        confirmation=confirmation,
    )
    for field in ("language", "recipient", "subject", "body", "html_body"):
        setattr(message, field, getattr(fresh, field))


# Messages per send task: one task for a batch, not one per message (`send_messages`).
SEND_BATCH = 100


def enqueue(messages: Sequence[Message]) -> None:
    """One send task per SEND_BATCH messages, once the transaction that wrote them commits.

    Best effort (`config.celery.publish`): with the broker down the messages stay
    queued in the database, and the sweep queues them again."""
    # One written for later (`visit_news.send_at`) is the sweep's once it is due.
    later = timezone.now()
    ids = [message.pk for message in messages if message.queued_at <= later]
    if not ids:
        return
    batches = [(ids[start : start + SEND_BATCH],) for start in range(0, len(ids), SEND_BATCH)]

    def queue_sends() -> None:
        publish("notifications.send_messages", batches)

    transaction.on_commit(queue_sends)
