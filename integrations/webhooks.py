"""Delivering an event to an endpoint, at least once, signed per Standard Webhooks.

The task calls `deliver(id)`. It claims the delivery with a conditional UPDATE
(pending and due → sending), so a task delivered twice or a second worker finds nothing
to do. A 2xx answer delivers it; anything else, or no answer, puts it back to pending
with a later `next_attempt_at` (exponential backoff), until WEBHOOK_MAX_ATTEMPTS. The
receiver deduplicates by `webhook-id`, the event's id, the same on every attempt: a
delivery whose answer was lost may arrive twice, and counts once. `sweep` queues again
what waits past its time (a lost task, a worker that died mid-send).
"""

import ipaddress
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Signer

from integrations.events import publish_deliveries
from integrations.models import WebhookDelivery

log = logging.getLogger(__name__)

Status = WebhookDelivery.Status


def retry_delay(attempts: int) -> timedelta:
    """The base, then twice that, four times... capped at an hour."""
    seconds = settings.WEBHOOK_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, 3600))


def signed_request(delivery: WebhookDelivery, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and the Standard Webhooks headers: id, timestamp, v1 signature."""
    event = delivery.event
    body = json.dumps(event.payload, cls=DjangoJSONEncoder, separators=(",", ":"))
    stamp = now.astimezone(UTC).replace(microsecond=0)
    signature = Signer(delivery.webhook.secret).sign(event.event_id, stamp, body)
    headers = {
        "content-type": "application/json",
        "user-agent": "Pitlane-Webhooks/1",
        "webhook-id": event.event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def refused_host(url: str) -> str:
    """Why `url` may not be called, or "": its host must resolve to public addresses
    only (unless WEBHOOK_ALLOW_PRIVATE_HOSTS), so an endpoint cannot reach this machine
    or the network behind it."""
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return ""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError as error:
        return f"Cannot resolve {host}: {error}"
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            return f"Refused: {host} is a private or local address ({address})"
    return ""


def deliver(delivery_id: int, now: datetime | None = None) -> datetime | None:
    """Sends one delivery if it is due and nobody else is. Returns when to try again
    after a failure that may pass, else None."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, attempted_at=now)
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "webhook").get(pk=delivery_id)
    body, headers = signed_request(delivery, now)
    refused = refused_host(delivery.webhook.url)
    if refused:
        return _failed(delivery, now, None, refused)
    try:
        response = requests.post(
            delivery.webhook.url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return _failed(delivery, now, None, f"{type(error).__name__}: {error}"[:500])
    if 200 <= response.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            status=Status.DELIVERED,
            delivered_at=now,
            response_status=response.status_code,
            error="",
        )
        return None
    return _failed(delivery, now, response.status_code, response.text[:500])


def _failed(
    delivery: WebhookDelivery, now: datetime, status_code: int | None, error: str
) -> datetime | None:
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
            status=Status.FAILED, response_status=status_code, error=error
        )
        log.warning("Webhook delivery %s failed for good: %s", delivery.pk, error)
        return None
    retry_at = now + retry_delay(delivery.attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.PENDING, next_attempt_at=retry_at, response_status=status_code, error=error
    )
    return retry_at


def replay(delivery: WebhookDelivery) -> None:
    """A manager sends it again, now, with the same event id (the receiver dedupes)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=Status.SENDING).update(
        status=Status.PENDING, next_attempt_at=timezone.now(), attempts=0, error=""
    )
    publish_deliveries([delivery.pk])


def sweep(now: datetime | None = None) -> int:
    """Queues again deliveries due a while ago (their task was lost or is late), and
    frees those left "sending" by a worker that died. Returns how many were queued."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30)
    WebhookDelivery.objects.filter(status=Status.SENDING, attempted_at__lt=now - grace).update(
        status=Status.PENDING, next_attempt_at=now
    )
    ids = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lt=now - grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    if ids:
        publish_deliveries(ids)
    return len(ids)
