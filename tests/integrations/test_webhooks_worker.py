"""A real Celery worker delivers an event to a real receiver (no time travel here: the
worker signs with the real clock, and the receiver checks the timestamp against it)."""

import pytest

from integrations.models import Webhook, WebhookDelivery
from tests.conftest import (
    purge_task_queues,
    start_celery_worker,
    stop_celery_worker,
    wait_until,
)
from tests.factories import DealershipFactory
from tests.integrations.receiver import Receiver
from tests.integrations.support import csv_text, import_csv, row

Status = WebhookDelivery.Status


@pytest.fixture
def worker(transactional_db, settings):
    """A real worker that may call the local receiver."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    purge_task_queues()
    process = start_celery_worker({"WEBHOOK_ALLOW_PRIVATE_HOSTS": "true"})
    try:
        yield process
    finally:
        stop_celery_worker(process)
        purge_task_queues()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_the_event(worker, receiver):
    gent = DealershipFactory(slug="gent-worker", country="BE")
    hook = Webhook(dealership=gent, url=receiver.url)
    hook.set_events(["appointment.cancelled"])
    hook.save()
    receiver.secret = hook.secret
    import_csv(gent, csv_text([row()]))

    import_csv(gent, csv_text([row(status="cancelled")]))

    wait_until(lambda: receiver.payloads, timeout=60, what="the webhook")
    wait_until(
        lambda: WebhookDelivery.objects.filter(status=Status.DELIVERED).exists(),
        what="the delivery recorded",
    )
    assert receiver.payloads[0]["data"]["reference"] == "WO-1"
