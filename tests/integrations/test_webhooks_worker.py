"""A real Celery worker delivers an event to a real receiver (no time travel here: the
worker signs with the real clock, and the receiver checks the timestamp against it)."""

import pytest

from integrations.models import Webhook, WebhookDelivery
from tests.conftest import wait_until
from tests.factories import DealershipFactory
from tests.integrations.receiver import Receiver
from tests.integrations.support import csv_text, import_csv, row

Status = WebhookDelivery.Status


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_the_event(celery_worker_process, receiver):
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
