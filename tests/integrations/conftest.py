import pytest
from django.core.cache import cache

from integrations.models import ApiKey
from tests.factories import DealershipFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def issue_key(dealership, name: str = "DMS") -> str:
    key = ApiKey(dealership=dealership, name=name)
    secret = key.issue()
    key.save()
    return secret


@pytest.fixture
def gent(db):
    return DealershipFactory(slug="gent", country="BE", time_zone="Europe/Brussels", language="nl")


@pytest.fixture
def api_key(gent) -> str:
    return issue_key(gent)
