"""Events out: one event row per change, signed per Standard Webhooks, delivered at
least once with backoff to a real receiver that verifies and deduplicates."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from integrations import webhooks
from integrations.models import Webhook, WebhookDelivery, WebhookEvent
from tests.factories import DealershipFactory, MembershipFactory, OfferFactory
from tests.integrations.receiver import Receiver
from tests.integrations.support import csv_text, import_csv, row
from workshop import checkin as flow
from workshop.models import Appointment, CheckInItem

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(
        datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Brussels")), tick=True
    ) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _local_receiver_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(gent, receiver):
    hook = Webhook(dealership=gent, url=receiver.url)
    hook.set_events(
        ["appointment.cancelled", "appointment.moved", "checkin.sent", "item.converted"]
    )
    hook.save()
    receiver.secret = hook.secret
    return hook


@pytest.fixture
def booked(gent):
    import_csv(gent, csv_text([row(), row(work_description="Ruitenwissers", work_price="39,50")]))
    return Appointment.objects.get()


def cancel(gent, capture):
    with capture(execute=True):
        import_csv(
            gent,
            csv_text(
                [
                    row(status="cancelled"),
                    row(status="cancelled", work_description="Ruitenwissers", work_price="39,50"),
                ]
            ),
        )


def test_a_change_is_delivered_signed_in_the_dms_terms(
    gent, endpoint, receiver, booked, eager_tasks, django_capture_on_commit_callbacks
):
    cancel(gent, django_capture_on_commit_callbacks)

    (event,) = WebhookEvent.objects.all()
    assert event.name == "appointment.cancelled"
    (delivery,) = event.deliveries.all()
    assert delivery.status == Status.DELIVERED
    assert receiver.refused == 0
    (payload,) = receiver.payloads
    assert payload["type"] == "appointment.cancelled"
    data = payload["data"]
    assert data["reference"] == "WO-1"
    assert data["status"] == "cancelled"
    assert data["work_items"] == [
        {"description": "Onderhoudsbeurt", "notes": "", "price": "389.00", "origin": "planned"},
        {"description": "Ruitenwissers", "notes": "", "price": "39.50", "origin": "planned"},
    ]


def test_the_receiver_refuses_a_wrong_signature(gent, endpoint, receiver, booked):
    cancelled = import_csv(gent, csv_text([row(status="cancelled")]))
    assert cancelled.counts["cancelled"] == 1
    receiver.secret = Webhook().secret  # another secret than the one we sign with
    delivery = WebhookDelivery.objects.get()

    webhooks.deliver(delivery.pk)

    assert receiver.refused == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.response_status == 400


def test_failures_are_retried_with_backoff_until_delivered_once(
    gent, endpoint, receiver, booked, settings, december
):
    settings.WEBHOOK_RETRY_SECONDS = 30
    import_csv(gent, csv_text([row(status="cancelled")]))
    delivery = WebhookDelivery.objects.get()
    receiver.fail_next = 2

    first = webhooks.deliver(delivery.pk)
    assert first is not None
    assert webhooks.deliver(delivery.pk) is None  # not due yet: nobody sends early
    december.shift(timedelta(seconds=31))
    second = webhooks.deliver(delivery.pk)
    assert second is not None
    assert (second - timezone.now()).total_seconds() == pytest.approx(60, abs=2)
    december.shift(timedelta(seconds=61))
    assert webhooks.deliver(delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 3)
    assert receiver.requests == 3
    assert len(receiver.payloads) == 1


def test_a_lost_answer_is_sent_again_and_the_receiver_takes_it_once(
    gent, endpoint, receiver, booked, settings, december
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    import_csv(gent, csv_text([row(status="cancelled")]))
    delivery = WebhookDelivery.objects.get()
    receiver.delay = 2  # the receiver takes the event, but answers too late

    assert webhooks.deliver(delivery.pk) is not None
    receiver.delay = 0
    december.shift(timedelta(minutes=5))
    webhooks.deliver(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert (len(receiver.payloads), receiver.duplicates) == (1, 1)


def test_a_delivery_gives_up_after_the_last_attempt(
    gent, endpoint, receiver, booked, settings, december
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    import_csv(gent, csv_text([row(status="cancelled")]))
    delivery = WebhookDelivery.objects.get()
    receiver.fail_next = 5

    webhooks.deliver(delivery.pk)
    december.shift(timedelta(hours=1))
    assert webhooks.deliver(delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        Status.FAILED,
        2,
        500,
    )


def test_replay_sends_the_same_event_again(
    gent, endpoint, receiver, booked, eager_tasks, django_capture_on_commit_callbacks
):
    cancel(gent, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()

    webhooks.replay(delivery)

    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert receiver.requests == 2
    assert (len(receiver.payloads), receiver.duplicates) == (1, 1)


def test_the_sweep_sends_what_waited_too_long(
    gent, endpoint, receiver, booked, eager_tasks, december
):
    import_csv(gent, csv_text([row(status="cancelled")]))  # its task was never published
    december.shift(timedelta(minutes=5))

    assert webhooks.sweep() == 1

    assert WebhookDelivery.objects.get().status == Status.DELIVERED
    assert len(receiver.payloads) == 1


def test_only_endpoints_listening_for_the_event_in_the_dealership_get_it(gent, booked, receiver):
    other = DealershipFactory(slug="other")
    for dealership, names in ((gent, ["checkin.sent"]), (other, ["appointment.cancelled"])):
        hook = Webhook(dealership=dealership, url=receiver.url)
        hook.set_events(names)
        hook.save()

    import_csv(gent, csv_text([row(status="cancelled")]))

    assert WebhookEvent.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_a_sent_check_in_carries_the_answers_as_work_lines(gent, endpoint, booked):
    wash = OfferFactory(dealership=gent, name="Car wash", price=Decimal("15.00"))
    checkin = booked.checkin
    CheckInItem.objects.create(
        checkin=checkin,
        kind=CheckInItem.Kind.OFFER_ACCEPTED,
        offer=wash,
        offer_name="Car wash",
        offer_price=Decimal("15.00"),
    )

    flow.submit_checkin(checkin)
    flow.submit_checkin(checkin)  # sent again without news: no second event

    (event,) = WebhookEvent.objects.filter(name="checkin.sent")
    assert event.payload["data"]["checkin"]["work_lines_to_add"] == [
        {"description": "Car wash", "price": "15.00"}
    ]
    assert event.deliveries.count() == 1


def test_a_converted_item_names_the_work_line_it_became(gent, endpoint, booked):
    staff = MembershipFactory(dealership=gent).user
    remark = CheckInItem.objects.create(
        checkin=booked.checkin,
        kind=CheckInItem.Kind.REMARK,
        state=CheckInItem.State.OPEN,
        subject="Brakes",
        description="Squeak",
    )

    flow.convert_item(remark, staff, description="Remblokken", price=Decimal("120"))

    (event,) = WebhookEvent.objects.filter(name="item.converted")
    assert event.payload["data"]["converted"] == {
        "kind": "remark",
        "work_line": {"description": "Remblokken", "notes": "", "price": "120.00"},
    }


def test_private_addresses_are_not_called_by_default(gent, endpoint, receiver, booked, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    import_csv(gent, csv_text([row(status="cancelled")]))
    delivery = WebhookDelivery.objects.get()

    assert webhooks.deliver(delivery.pk) is not None

    assert receiver.requests == 0
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert "private or local address (127.0.0.1)" in delivery.error
