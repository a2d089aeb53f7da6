import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext

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


def nl(text: str, context: str = "") -> str:
    """What the Dutch-speaking customer of `checkin` reads for `text` (in `context`)."""
    with translation.override("nl"):
        return pgettext(context, text) if context else gettext(text)


def nl_plural(singular: str, plural: str, count: int) -> str:
    with translation.override("nl"):
        return ngettext(singular, plural, count)


def nl_after(text: str, placeholder: str) -> str:
    """The Dutch for `text` from just after `placeholder`: what a message says whatever
    value (a file name, a size) fills it."""
    return nl(text).split(placeholder, 1)[1]


# What the customer reads when a file is refused.
NOT_MEDIA = (
    "“%(name)s” is not a photo or video we can accept. "
    "Send photos as JPEG, PNG, WebP or HEIC and videos as MP4, MOV or WebM."
)
PHOTO_TOO_LARGE = "“%(name)s” is larger than %(limit)s, the most we accept for a photo."
VIDEO_TOO_LARGE = "“%(name)s” is larger than %(limit)s, the most we accept for a video."
NOT_ARRIVED = "“%(name)s” has not arrived. Please try again."
TOO_MANY = "A remark can have at most %(limit)d photos or videos. Remove one to add “%(name)s”."
