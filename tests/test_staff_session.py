"""A staff session lasts a working day from the log-in, however busy the day."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.factories import DealershipFactory, MembershipFactory, UserFactory
from workshop.models import Role

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-1"
MORNING = datetime(2025, 3, 3, 7, 30, tzinfo=UTC)
APPOINTMENTS = reverse("workshop:appointments")


@pytest.fixture
def rita(db):
    user = UserFactory(username="rita", password=PASSWORD)
    MembershipFactory(user=user, dealership=DealershipFactory(name="North"))
    MembershipFactory(user=user, dealership=DealershipFactory(name="South"), role=Role.MANAGER)
    return user


def switch(client, user):
    """Something a receptionist does all day that writes to the session."""
    dealership = user.memberships.order_by("?").first().dealership_id
    return client.post(reverse("workshop:switch_dealership"), {"dealership": dealership})


def test_a_busy_session_still_ends_a_working_day_after_the_log_in(client, rita, settings):
    settings.STAFF_SESSION_HOURS = 10
    with time_machine.travel(MORNING, tick=False) as clock:
        assert (
            client.post(reverse("login"), {"username": "rita", "password": PASSWORD}).status_code
            == 302
        )
        for _ in range(19):  # every half hour, for nine and a half hours
            clock.shift(timedelta(minutes=30))
            assert switch(client, rita).status_code == 302
            assert client.get(APPOINTMENTS).status_code == 200
        clock.shift(timedelta(minutes=29))
        assert client.get(APPOINTMENTS).status_code == 200  # 9 h 59 min after the log-in
        clock.shift(timedelta(minutes=2))
        response = client.get(APPOINTMENTS)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_session_cookie_expires_with_the_working_day(client, rita, settings):
    settings.STAFF_SESSION_HOURS = 8
    with time_machine.travel(MORNING, tick=False) as clock:
        login = client.post(reverse("login"), {"username": "rita", "password": PASSWORD})
        assert login.cookies["sessionid"]["max-age"] == 8 * 60 * 60
        clock.shift(timedelta(hours=3))
        later = switch(client, rita)
        assert later.cookies["sessionid"]["max-age"] == 5 * 60 * 60


def test_a_new_log_in_starts_a_new_working_day(client, rita, settings):
    settings.STAFF_SESSION_HOURS = 10
    with time_machine.travel(MORNING, tick=False) as clock:
        client.post(reverse("login"), {"username": "rita", "password": PASSWORD})
        clock.shift(timedelta(hours=9))
        client.post(reverse("logout"))
        client.post(reverse("login"), {"username": "rita", "password": PASSWORD})
        clock.shift(timedelta(hours=9))
        assert client.get(APPOINTMENTS).status_code == 200


def test_an_admin_session_ends_the_same_way(client, settings):
    settings.STAFF_SESSION_HOURS = 10
    UserFactory(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    with time_machine.travel(MORNING, tick=False) as clock:
        client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
        assert client.get(reverse("admin:index")).status_code == 200
        clock.shift(timedelta(hours=10, minutes=1))
        assert client.get(reverse("admin:index")).status_code == 302
