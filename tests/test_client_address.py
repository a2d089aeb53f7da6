"""One client address for staff lockouts and the portal's rate limit.

With TRUSTED_PROXY_COUNT proxies in front, the address is the one the outermost trusted
proxy saw (it appended it to X-Forwarded-For); anything further left was written by the
client and proves nothing. Without a trusted proxy the header is ignored.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from config.client_ip import client_ip
from tests.factories import AppointmentFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
PROXY = "10.0.0.1"
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"
PASSWORD = "the-right-password-1"
WRONG_PASSWORD = "wrong"
# The middle of a minute, so a rate-limit window never turns over during a test.
NOON = datetime(2025, 3, 3, 12, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Every failed log-in hashes a password; the production hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def behind_proxy(*forwarded: str) -> Client:
    """A browser behind our proxy, which appended the last entry of X-Forwarded-For."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=", ".join(forwarded))


def log_in(client: Client, username: str, password: str = WRONG_PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password})


def address_of(**meta: str) -> str:
    return client_ip(RequestFactory().get("/", **meta))


# --- Which address -----------------------------------------------------------------


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert address_of(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM) == ATTACKER


def test_behind_one_proxy_the_address_it_saw_counts_not_what_the_client_wrote(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert address_of(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER) == ATTACKER
    forged = f"{VICTIM}, not-an-address, {ATTACKER}"
    assert address_of(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forged) == ATTACKER


def test_behind_two_proxies_the_outer_proxys_entry_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    chain = f"{VICTIM}, {ATTACKER}, 10.0.0.2"  # forged, seen by the outer proxy, the outer proxy
    assert address_of(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=chain) == ATTACKER


def test_a_request_that_went_round_the_proxies_counts_under_its_own_address(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert address_of(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="") == ATTACKER
    assert address_of(REMOTE_ADDR=ATTACKER) == ATTACKER


def test_an_ipv6_client_counts_as_its_whole_64_block(settings):
    """Whoever holds an IPv6 /64 can pick any of its addresses for each attempt."""
    settings.TRUSTED_PROXY_COUNT = 1
    first = address_of(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="2001:db8:1:2::1")
    second = address_of(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="2001:db8:1:2:ffff::9")
    assert first == second == "2001:db8:1:2::"
    assert address_of(REMOTE_ADDR="2001:db8:1:3::1") == "2001:db8:1:3::"


def test_lockouts_and_the_portal_limit_ask_the_same_function(settings):
    from axes.helpers import get_client_ip_address

    assert settings.RATELIMIT_IP_META_KEY == settings.AXES_CLIENT_IP_CALLABLE
    settings.TRUSTED_PROXY_COUNT = 1
    forwarded = f"{VICTIM}, {ATTACKER}"
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert get_client_ip_address(request) == ATTACKER


# --- Staff log-in lockouts ------------------------------------------------------------


def test_behind_a_proxy_a_forged_address_cannot_lock_another_client_out(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="rita", password=PASSWORD)
    attacker = behind_proxy(VICTIM, ATTACKER)  # claims to be the victim
    statuses = [log_in(attacker, "rita").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert log_in(attacker, "rita", PASSWORD).status_code == 429

    victim = behind_proxy(VICTIM)
    assert log_in(victim, "rita", PASSWORD).status_code == 302


def test_without_a_trusted_proxy_a_forged_header_cannot_lock_another_client_out(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    UserFactory(username="rita", password=PASSWORD)
    attacker = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM)
    for _ in range(5):
        log_in(attacker, "rita")
    assert log_in(Client(REMOTE_ADDR=VICTIM), "rita", PASSWORD).status_code == 302


def test_an_address_trying_many_usernames_is_locked_out(settings, frozen):
    """Password spraying: one or two guesses per username never lock a username."""
    settings.AXES_ADDRESS_FAILURE_LIMIT = 20
    UserFactory(username="rita", password=PASSWORD)
    sprayer = Client(REMOTE_ADDR=ATTACKER)
    statuses = [log_in(sprayer, f"user{n}").status_code for n in range(20)]
    assert statuses == [200] * 19 + [429]
    assert log_in(sprayer, "rita", PASSWORD).status_code == 429
    assert "_auth_user_id" not in sprayer.session

    # Another address is not held up, and the lock passes with the cool-off time.
    assert log_in(Client(REMOTE_ADDR=VICTIM), "rita", PASSWORD).status_code == 302
    frozen.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    assert log_in(sprayer, "rita", PASSWORD).status_code == 302


def test_an_office_sharing_an_address_is_not_locked_by_everyday_typos(settings, frozen):
    """A successful log-in clears that user's failures, so typos do not add up."""
    settings.AXES_ADDRESS_FAILURE_LIMIT = 20
    office = Client(REMOTE_ADDR=VICTIM)
    for n in range(15):
        UserFactory(username=f"staff{n}", password=PASSWORD)
        log_in(office, f"staff{n}")
        log_in(office, f"staff{n}")
        assert log_in(office, f"staff{n}", PASSWORD).status_code == 302
        office.logout()


# --- The portal's rate limit ---------------------------------------------------------


def test_behind_a_proxy_a_forged_address_does_not_escape_the_portal_limit(settings, frozen):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_REQUESTS_PER_MINUTE = 3
    link = AppointmentFactory().checkin.link.removeprefix(settings.SITE_URL)
    statuses = [behind_proxy(f"192.0.2.{n}", ATTACKER).get(link).status_code for n in range(1, 5)]
    assert statuses == [200, 200, 200, 429]
    # Another customer behind the same proxy is not held up.
    assert behind_proxy(VICTIM).get(link).status_code == 200
    # A new minute, a new allowance.
    frozen.shift(timedelta(minutes=1))
    assert behind_proxy(ATTACKER).get(link).status_code == 200
