import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AppointmentFactory, DealershipFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_staff_pages_need_a_login(client):
    response = client.get(reverse("workshop:appointments"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_todays_appointments_of_the_users_dealership(staff_client, dealership):
    mine = AppointmentFactory(dealership=dealership, starts_at=timezone.now())
    theirs = AppointmentFactory(dealership=DealershipFactory(), starts_at=timezone.now())
    response = staff_client.get(reverse("workshop:appointments"))
    assert response.status_code == 200
    body = response.content.decode()
    assert mine.vehicle.plate in body
    assert theirs.vehicle.plate not in body


def test_a_user_cannot_switch_to_a_dealership_they_do_not_belong_to(staff_client):
    other = DealershipFactory()
    response = staff_client.post(reverse("workshop:switch_dealership"), {"dealership": other.pk})
    assert response.status_code == 404


def test_a_user_in_two_dealerships_switches_between_them(staff_client, receptionist):
    second = MembershipFactory(user=receptionist, dealership=DealershipFactory(name="Zz Garage"))
    there = AppointmentFactory(dealership=second.dealership, starts_at=timezone.now())
    assert (
        there.vehicle.plate
        not in staff_client.get(reverse("workshop:appointments")).content.decode()
    )
    staff_client.post(reverse("workshop:switch_dealership"), {"dealership": second.dealership_id})
    assert (
        there.vehicle.plate in staff_client.get(reverse("workshop:appointments")).content.decode()
    )


def test_a_user_without_a_dealership_sees_nothing(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("loner", password="x-y-z-12345"))
    assert client.get(reverse("workshop:appointments")).status_code == 404
