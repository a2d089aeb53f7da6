"""The JSON API: per-dealership keys, the same upsert as the CSV, reading answers back."""

import json
import logging
import threading
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.db import connection, connections, transaction

from integrations.models import ApiCall, ApiKey
from tests.factories import (
    AppointmentFactory,
    DealershipFactory,
    MembershipFactory,
    OfferFactory,
    RemarkFactory,
)
from tests.integrations.conftest import issue_key
from tests.integrations.support import api_item
from workshop import visit
from workshop.models import Appointment, CheckInItem, Customer, Dealership

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/appointments/batch"


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Brussels"))):
        yield


def auth(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client, key: str, items: list[dict]):
    return client.post(
        BATCH, json.dumps({"appointments": items}), content_type="application/json", **auth(key)
    )


def test_a_batch_creates_then_a_resent_batch_changes_nothing(client, gent, api_key):
    items = [api_item(reference=f"WO-{n}", customer_number=f"C-{n}") for n in range(3)]

    first = post(client, api_key, items)
    again = post(client, api_key, items)

    assert first.status_code == 200, first.content
    assert first.json() == {"new": 3, "changed": 0, "cancelled": 0, "unchanged": 0}
    assert again.json() == {"new": 0, "changed": 0, "cancelled": 0, "unchanged": 3}
    assert Appointment.objects.filter(dealership=gent).count() == 3


def test_a_batch_with_one_bad_item_imports_nothing_and_names_item_and_field(client, gent, api_key):
    items = [api_item(reference="WO-1"), api_item(reference="WO-2", starts_at="soon", year=2019)]

    response = post(client, api_key, items)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "item": 2,
            "field": "starts_at",
            "message": "Enter a date and time like 2026-03-14T08:30 (ISO 8601).",
        }
    ]
    assert not Appointment.objects.exists()


def test_numbers_are_taken_as_json_numbers_too(client, gent, api_key):
    item = api_item(year=2019, mileage=84500)
    item["work"] = [{"description": "Beurt", "price": 389.5}]
    assert post(client, api_key, [item]).status_code == 200
    appointment = Appointment.objects.get()
    assert appointment.vehicle.year == 2019
    assert appointment.work_items.get().price == Decimal("389.50")


def test_put_upserts_one_appointment_by_its_reference(client, gent, api_key):
    response = client.put(
        "/api/v1/appointments/WO-77",
        json.dumps(api_item(reference="ignored")),
        content_type="application/json",
        **auth(api_key),
    )
    assert response.json()["new"] == 1
    assert Appointment.objects.get().external_ref == "WO-77"


def test_read_gives_work_items_and_the_customers_answers(client, gent, api_key):
    post(client, api_key, [api_item()])
    appointment = Appointment.objects.get()
    wash = OfferFactory(dealership=gent, name="Car wash", price=Decimal("15.00"))
    CheckInItem.objects.create(
        checkin=appointment.checkin,
        kind=CheckInItem.Kind.OFFER_ACCEPTED,
        state=CheckInItem.State.OPEN,
        offer=wash,
        offer_name="Car wash",
        offer_price=Decimal("15.00"),
    )
    RemarkFactory(checkin=appointment.checkin, subject="Brakes", description="Squeak")

    data = client.get("/api/v1/appointments/WO-1", **auth(api_key)).json()

    assert data["reference"] == "WO-1"
    assert data["starts_at"] == "2027-01-12T08:00:00+01:00"
    assert data["work_items"] == [
        {"description": "Onderhoudsbeurt", "notes": "", "price": "389.00", "origin": "planned"}
    ]
    assert data["checkin"]["work_lines_to_add"] == [{"description": "Car wash", "price": "15.00"}]
    assert data["checkin"]["remarks"] == [
        {"subject": "Brakes", "description": "Squeak", "state": "open"}
    ]


def test_a_key_sees_and_changes_only_its_own_dealership(client, gent, api_key):
    utrecht = DealershipFactory(slug="utrecht", country="NL", time_zone="Europe/Amsterdam")
    theirs = AppointmentFactory(dealership=utrecht, external_ref="WO-1")

    assert client.get("/api/v1/appointments/WO-1", **auth(api_key)).status_code == 404
    post(client, api_key, [api_item(reference="WO-1", status="cancelled")])

    theirs.refresh_from_db()
    assert theirs.status == Appointment.Status.SCHEDULED  # the other one is untouched
    assert Appointment.objects.get(dealership=gent).external_ref == "WO-1"
    assert not Customer.objects.filter(dealership=utrecht).exclude(pk=theirs.customer_id)


def test_unknown_and_revoked_keys_are_refused(client, gent, api_key):
    assert client.get("/api/v1/changes").status_code == 401
    assert client.get("/api/v1/changes", **auth("pl_nope_nope")).status_code == 401
    assert client.get("/api/v1/changes", **auth(api_key + "x")).status_code == 401
    ApiKey.objects.get().revoke()
    assert client.get("/api/v1/changes", **auth(api_key)).status_code == 401


def test_keys_are_stored_hashed(gent, api_key):
    stored = ApiKey.objects.get()
    assert api_key.split("_", 2)[2] not in {stored.secret_hash, stored.selector, stored.name}


def test_calls_are_rate_limited_per_key(client, gent, api_key, settings):
    settings.API_RATE_PER_MINUTE = 3
    other = issue_key(gent, "other")
    statuses = [client.get("/api/v1/changes", **auth(api_key)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/v1/changes", **auth(other)).status_code == 200


def test_every_call_is_logged_without_the_key(client, gent, api_key, caplog):
    with caplog.at_level(logging.INFO, logger="integrations.api"):
        post(client, api_key, [api_item()])
        client.get("/api/v1/appointments/WO-1?x=secret", **auth(api_key))
        client.get("/api/v1/changes", **auth("pl_bad_key"))

    calls = list(ApiCall.objects.order_by("pk").values_list("method", "path", "status", "key"))
    key_id = ApiKey.objects.get().pk
    assert calls == [
        ("POST", BATCH, 200, key_id),
        ("GET", "/api/v1/appointments/WO-1", 200, key_id),
        ("GET", "/api/v1/changes", 401, None),
    ]
    secret = api_key.split("_", 2)[2]
    assert secret not in caplog.text
    assert "API POST /api/v1/appointments/batch 200" in caplog.text


def test_changes_since_a_cursor(client, gent, api_key):
    post(client, api_key, [api_item(), api_item(reference="WO-2", customer_number="C-2")])
    post(client, api_key, [api_item(status="cancelled")])

    first = client.get("/api/v1/changes", **auth(api_key)).json()
    assert [(c["event"], c["reference"]) for c in first["changes"]] == [
        ("appointment.cancelled", "WO-1")
    ]
    post(
        client,
        api_key,
        [
            api_item(
                reference="WO-2",
                customer_number="C-2",
                starts_at="2027-01-13T08:00",
                ends_at="2027-01-13T09:00",
            )
        ],
    )
    later = client.get(f"/api/v1/changes?cursor={first['next_cursor']}", **auth(api_key)).json()
    assert [(c["event"], c["reference"]) for c in later["changes"]] == [
        ("appointment.moved", "WO-2")
    ]
    assert later["changes"][0]["data"]["starts_at"] == "2027-01-13T08:00:00+01:00"


def test_the_openapi_schema_describes_the_api(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {
        "/api/v1/appointments/batch",
        "/api/v1/appointments/{reference}",
        "/api/v1/changes",
    } <= set(schema["paths"])


@pytest.mark.django_db(transaction=True)
def test_a_batch_retried_after_a_timeout_creates_nothing_twice(live_server):
    """The DMS gives up waiting on a slow call and sends the batch again while the
    first is still running: both finish, and every appointment exists once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database that runs the two calls at the same time")
    gent = DealershipFactory(slug="gent-live", country="BE")
    key = issue_key(gent)
    items = [api_item(reference=f"WO-{n}", customer_number=f"C-{n}") for n in range(20)]
    url = live_server.url + BATCH
    headers = {"Authorization": f"Bearer {key}"}
    answers: list[dict] = []
    held = threading.Event()
    release = threading.Event()

    def hold_the_dealership() -> None:
        # Another import holds the dealership's turn, so the first call has to wait.
        try:
            with transaction.atomic():
                Dealership.objects.select_for_update(no_key=True).get(pk=gent.pk)
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    def retry() -> None:
        answers.append(
            requests.post(url, json={"appointments": items}, headers=headers, timeout=30).json()
        )

    holder = threading.Thread(target=hold_the_dealership)
    holder.start()
    held.wait(10)
    with pytest.raises(requests.Timeout):
        requests.post(url, json={"appointments": items}, headers=headers, timeout=1)
    retrying = threading.Thread(target=retry)
    retrying.start()
    release.set()
    holder.join()
    retrying.join()

    assert Appointment.objects.filter(dealership=gent).count() == 20
    assert Customer.objects.filter(dealership=gent).count() == 20
    assert answers[0]["new"] + answers[0]["unchanged"] == 20


@pytest.mark.parametrize("size", [1, 8])
def test_reads_cost_the_same_whatever_the_data(
    client, gent, api_key, size, django_assert_num_queries
):
    post(
        client,
        api_key,
        [api_item(reference=f"WO-{n}", customer_number=f"C-{n}") for n in range(size)],
    )
    post(
        client,
        api_key,
        [
            api_item(reference=f"WO-{n}", customer_number=f"C-{n}", status="cancelled")
            for n in range(size)
        ],
    )
    appointment = Appointment.objects.get(external_ref="WO-0")
    for n in range(size):
        RemarkFactory(checkin=appointment.checkin, subject=f"Remark {n}")
    with django_assert_num_queries(6):
        assert client.get("/api/v1/appointments/WO-0", **auth(api_key)).status_code == 200
    with django_assert_num_queries(4):
        changes = client.get("/api/v1/changes", **auth(api_key)).json()["changes"]
    assert len(changes) == size


def test_read_tells_where_the_visit_stands(client, gent, api_key):
    staff_user = MembershipFactory(dealership=gent).user
    post(client, api_key, [api_item()])
    appointment = Appointment.objects.select_related("dealership").get()
    brussels = ZoneInfo("Europe/Brussels")
    with time_machine.travel(datetime(2027, 1, 12, 7, 55, tzinfo=brussels), tick=False):
        promised = datetime(2027, 1, 12, 16, 30, tzinfo=brussels)
        assert visit.arrive(appointment, user=staff_user, promised_ready_at=promised)
        visit.ready(appointment, user=staff_user)
        visit.collect(appointment, user=staff_user)
        visit.rate(appointment, stars=4, comment="Quick")

    data = client.get("/api/v1/appointments/WO-1", **auth(api_key)).json()

    assert data["status"] == "done"
    assert data["visit"] == {
        "confirmation": None,
        "confirmed_at": None,
        "moves": 0,
        "arrived_at": "2027-01-12T07:55:00+01:00",
        "promised_ready_at": "2027-01-12T16:30:00+01:00",
        "ready_at": "2027-01-12T07:55:00+01:00",
        "collected_at": "2027-01-12T07:55:00+01:00",
        "no_show_at": None,
        "cancelled_at": None,
        "cancelled_by": None,
        "cancel_reason": "",
        "rating": {"stars": 4, "comment": "Quick"},
    }


def test_read_tells_who_cancelled_and_why(client, gent, api_key):
    staff_user = MembershipFactory(dealership=gent).user
    post(client, api_key, [api_item()])
    appointment = Appointment.objects.select_related("dealership").get()
    with time_machine.travel(
        datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Brussels")), tick=False
    ):
        assert visit.cancel(
            appointment, by=Appointment.CancelledBy.WORKSHOP, reason="Booked twice", user=staff_user
        )

    data = client.get("/api/v1/appointments/WO-1", **auth(api_key)).json()

    assert data["status"] == "cancelled"
    assert data["visit"]["cancelled_by"] == "workshop"
    assert data["visit"]["cancel_reason"] == "Booked twice"
    assert data["visit"]["cancelled_at"] == "2026-12-01T10:00:00+01:00"
