"""Managers set up API keys and webhooks in the admin, and replay deliveries."""

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from integrations.models import ApiKey, Webhook, WebhookDelivery
from tests.factories import DealershipFactory, MembershipFactory, UserFactory
from tests.integrations.conftest import issue_key
from tests.integrations.support import csv_text, import_csv, row
from workshop.demo import Seeder
from workshop.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, gent):
    Seeder().users()  # the Managers group and its permissions, as the demo sets them up
    manager = UserFactory(username="boss", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    MembershipFactory(user=manager, dealership=gent, role=Role.MANAGER)
    client.force_login(manager)
    return client


def test_a_new_key_is_shown_once_and_works(manager_client, gent):
    response = manager_client.post(
        reverse("admin:integrations_apikey_add"), {"dealership": gent.pk, "name": "Our DMS"}
    )
    assert response.status_code == 302
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "Copy it now" in str(m)]
    key = re.search(r"pl_\w+_[\w-]+", message).group(0)
    stored = ApiKey.objects.get()
    assert key.split("_", 2)[2] not in stored.secret_hash
    assert ApiKey.objects.find(key) == stored
    change = reverse("admin:integrations_apikey_change", args=[stored.pk])
    assert key in manager_client.get(change).content.decode()  # the message, once
    assert key not in manager_client.get(change).content.decode()  # never again


def test_a_manager_revokes_a_key(manager_client, gent):
    key = issue_key(gent)
    manager_client.post(
        reverse("admin:integrations_apikey_changelist"),
        {"action": "revoke", "_selected_action": [ApiKey.objects.get().pk]},
    )
    assert ApiKey.objects.find(key) is None


def test_a_manager_sees_only_their_dealerships_keys(manager_client):
    issue_key(DealershipFactory(name="Theirs"), name="Their DMS")
    listing = manager_client.get(reverse("admin:integrations_apikey_changelist"))
    assert "Their DMS" not in listing.content.decode()


def test_a_manager_sets_up_a_webhook_with_its_events(manager_client, gent):
    response = manager_client.post(
        reverse("admin:integrations_webhook_add"),
        {
            "dealership": gent.pk,
            "url": "https://dms.example/hooks",
            "event_choices": ["checkin.sent", "appointment.moved"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    hook = Webhook.objects.get()
    assert hook.event_names == ["checkin.sent", "appointment.moved"]
    assert hook.secret.startswith("whsec_")
    assert list(Webhook.objects.listening(gent.pk, "appointment.moved")) == [hook]
    assert not Webhook.objects.listening(gent.pk, "appointment.cancelled").exists()


def test_the_delivery_log_replays_a_delivery(
    manager_client, gent, django_capture_on_commit_callbacks
):
    hook = Webhook(dealership=gent, url="https://dms.example/hooks")
    hook.set_events(["appointment.cancelled"])
    hook.save()
    import_csv(gent, csv_text([row()]))
    import_csv(gent, csv_text([row(status="cancelled")]))
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=10)

    listing = manager_client.get(reverse("admin:integrations_webhookdelivery_changelist"))
    assert "appointment.cancelled" in listing.content.decode()
    manager_client.post(
        reverse("admin:integrations_webhookdelivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
    )

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
