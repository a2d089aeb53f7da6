"""PostgreSQL drops every connection (a restart, a failover): the next request and the
next task of each process reconnect instead of failing. Runs where the database is
PostgreSQL (CI); skipped on SQLite, which has no connections to drop."""

import psycopg
import pytest
import requests
from django.db import connection
from django.urls import reverse

from config.celery import DATABASE_ERRORS
from notifications import invitations
from notifications.models import Message
from notifications.tasks import dispatch, send_message, send_messages
from portal.tasks import process_attachment
from tests.conftest import wait_until
from tests.factories import AppointmentFactory

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no server connections to drop; this runs on PostgreSQL (CI).",
)


def drop_every_connection() -> int:
    """From a connection of its own, ends every other session on the test database
    (only that one), as a database restart would; returns how many it ended."""
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname=params["NAME"],
        autocommit=True,
    ) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    connection.close()  # this process's connection was one of them
    assert ended is not None
    return ended[0]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_first_request_after_the_database_dropped_its_connections_succeeds(web_server):
    page = reverse("portal:welcome", args=[AppointmentFactory().checkin.token])
    site = web_server()  # one web process, keeping its connection between requests
    assert requests.get(site.url + page, timeout=30).status_code == 200

    assert drop_every_connection() >= 1
    response = requests.get(site.url + page, timeout=30)

    assert response.status_code == 200
    assert requests.get(site.url + page, timeout=30).status_code == 200


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_first_send_after_the_database_dropped_its_connections_succeeds(
    always_open, twilio, worker
):
    AppointmentFactory(dealership=always_open)
    invitations.dispatch_due_invitations()
    wait_until(lambda: Message.objects.filter(status="sent").count() == 1, what="first sent")

    assert drop_every_connection() >= 1
    AppointmentFactory(dealership=always_open)
    (second,) = invitations.dispatch_due_invitations()

    wait_until(lambda: Message.objects.get(pk=second.pk).status == "sent", what="second sent")
    assert not [line for line in worker.log_lines if "OperationalError" in line]
    assert len(twilio.requests) == 2


def test_tasks_are_tried_again_when_the_database_fails_them():
    for task in (send_message, send_messages, dispatch, process_attachment):
        assert set(DATABASE_ERRORS) <= set(task.autoretry_for), task.name
        assert task.retry_backoff, task.name
