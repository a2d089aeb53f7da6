import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def checkin(db):
    """A Belgian dealership's appointment, two days ahead, for a Dutch-speaking customer."""
    dealership = DealershipFactory(name="Garage Leie", country="BE", language="nl")
    customer = CustomerFactory(
        dealership=dealership,
        first_name="Jan",
        phone="+32470123456",
        email="jan@example.com",
        preferred_channel="sms",
        language="nl",
    )
    return AppointmentFactory(dealership=dealership, customer=customer).checkin


def url(checkin, name: str, *args: object) -> str:
    return reverse(f"portal:{name}", args=[checkin.token, *args])


def nl(text: str) -> str:
    """What the Dutch-speaking customer of `checkin` reads for `text`."""
    with translation.override("nl"):
        return gettext(text)
