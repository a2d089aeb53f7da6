"""Events out: `emit` is the one call that records a change for webhooks and the API's
change feed. It runs inside the caller's transaction, so the event exists exactly when
the change does, once; delivery is queued after the commit.

Event names (`integrations.models.EventName`):
    checkin.sent, item.converted, appointment.confirmed, appointment.declined,
    appointment.cancelled, appointment.moved, appointment.arrived, appointment.ready,
    appointment.collected, appointment.no_show
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from config.celery import publish
from integrations.documents import appointment_document, with_document_data
from integrations.models import EventName, Webhook, WebhookDelivery, WebhookEvent

CHECKIN_SENT = EventName.CHECKIN_SENT
ITEM_CONVERTED = EventName.ITEM_CONVERTED
APPOINTMENT_CONFIRMED = EventName.APPOINTMENT_CONFIRMED
APPOINTMENT_DECLINED = EventName.APPOINTMENT_DECLINED
APPOINTMENT_CANCELLED = EventName.APPOINTMENT_CANCELLED
APPOINTMENT_MOVED = EventName.APPOINTMENT_MOVED
APPOINTMENT_ARRIVED = EventName.APPOINTMENT_ARRIVED
APPOINTMENT_READY = EventName.APPOINTMENT_READY
APPOINTMENT_COLLECTED = EventName.APPOINTMENT_COLLECTED
APPOINTMENT_NO_SHOW = EventName.APPOINTMENT_NO_SHOW

DELIVER_TASK = "integrations.deliver_webhook"


def emit(appointment_id: int, name: str, **extra: Any) -> WebhookEvent:
    """Records that `name` happened to the appointment (with `extra` facts, such as the
    work item an item became), and queues it to every endpoint listening for it.

    The payload is the appointment as it is now, in the caller's transaction: what a
    receiver gets on every attempt, and what the API's change feed shows."""
    now = timezone.now()
    appointment = with_document_data().get(pk=appointment_id)
    data = appointment_document(appointment)
    data.update(extra)
    event = WebhookEvent.objects.create(
        dealership_id=appointment.dealership_id,
        appointment=appointment,
        name=name,
        at=now,
        payload={"type": str(name), "timestamp": now.isoformat(), "data": data},
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, webhook=webhook, next_attempt_at=now)
        for webhook in Webhook.objects.listening(appointment.dealership_id, name)
    )
    if deliveries:
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: publish_deliveries(ids))
    return event


def publish_deliveries(ids: list[int]) -> None:
    publish(DELIVER_TASK, [[pk] for pk in ids])
