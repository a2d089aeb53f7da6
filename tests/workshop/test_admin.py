"""The admin, as a dealership's manager uses it: their dealerships, offers and staff only."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import DealershipFactory, MembershipFactory, OfferFactory, UserFactory
from workshop.demo import Seeder
from workshop.models import Membership, Offer, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    Seeder().users()  # the Managers group and its permissions, as the demo sets them up
    mine = DealershipFactory(name="Mine")
    manager = UserFactory(username="boss", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    MembershipFactory(user=manager, dealership=mine, role=Role.MANAGER)
    client.force_login(manager)
    return client, mine


def test_a_manager_sees_and_edits_only_their_dealerships_offers(manager_client):
    client, mine = manager_client
    own = OfferFactory(dealership=mine, name="Our car wash")
    other = OfferFactory(dealership=DealershipFactory(name="Theirs"), name="Their car wash")
    listing = client.get(reverse("admin:workshop_offer_changelist")).content.decode()
    assert own.name in listing
    assert other.name not in listing
    assert client.get(reverse("admin:workshop_offer_change", args=[other.pk])).status_code == 302
    response = client.post(
        reverse("admin:workshop_offer_add"),
        {
            "dealership": mine.pk,
            "name": "Wiper blades",
            "description": "New blades",
            "price": "39.50",
            "active": "on",
            "converts_to_work_item": "on",
            "position": "3",
            "translations-TOTAL_FORMS": "0",
            "translations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Offer.objects.get(name="Wiper blades").dealership == mine


def test_a_manager_cannot_add_an_offer_to_another_dealership(manager_client):
    client, _mine = manager_client
    theirs = DealershipFactory(name="Theirs")
    response = client.post(
        reverse("admin:workshop_offer_add"),
        {
            "dealership": theirs.pk,
            "name": "Sneaky",
            "price": "1.00",
            "position": "1",
            "translations-TOTAL_FORMS": "0",
            "translations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form again, with the choice refused
    assert not Offer.objects.filter(name="Sneaky").exists()


def test_a_manager_runs_their_own_staff_but_grants_no_admin_rights(manager_client):
    client, mine = manager_client
    colleague = MembershipFactory(dealership=mine, role=Role.RECEPTIONIST).user
    stranger = MembershipFactory(dealership=DealershipFactory(), role=Role.RECEPTIONIST).user
    listing = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert colleague.username in listing
    assert stranger.username not in listing
    form = client.get(reverse("admin:auth_user_change", args=[colleague.pk])).content.decode()
    assert 'name="is_superuser"' not in form
    assert 'name="is_active"' in form


def test_a_manager_cannot_create_or_delete_dealerships(manager_client):
    client, mine = manager_client
    assert client.get(reverse("admin:workshop_dealership_add")).status_code == 403
    assert (
        client.get(reverse("admin:workshop_dealership_change", args=[mine.pk])).status_code == 200
    )
    assert Membership.objects.filter(dealership=mine).count() == 1
