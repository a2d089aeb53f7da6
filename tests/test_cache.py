"""The Redis cache's client (`config.cache`): one redis-py client per pool, and a
counter added to in one atomic step, as the portal's rate limit counts."""

import threading

import pytest
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "config.cache.RedisCache",
    reason="needs Redis (CACHE_URL); CI runs it",
)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_counter_keeps_its_expiry_and_a_missing_one_is_refused():
    assert cache.add("count", 1, 60)
    assert cache.incr("count") == 2
    assert cache.incr("count", 5) == 7
    client = cache._cache.get_client(write=True)
    assert 0 < client.ttl(cache.make_key("count")) <= 60
    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-added")
    assert cache.get("never-added") is None  # refused, and not created either


def test_counting_from_many_threads_loses_nothing():
    cache.add("hits", 0, 60)

    def count() -> None:
        for _ in range(200):
            cache.incr("hits")

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("hits") == 1600


def test_one_client_serves_every_call():
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)
    assert cache.get("unknown", "default") == "default"  # and it answers
