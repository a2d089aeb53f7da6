"""The language of the pages behind a link."""

from django.conf import settings
from django.http import HttpRequest

from workshop.models import OnlineCheckIn

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


def language_session_key(checkin: OnlineCheckIn) -> str:
    return f"portal-language-{checkin.pk}"


def page_language(
    request: HttpRequest, checkin: OnlineCheckIn, customer_language: str, dealership_language: str
) -> str:
    """The language chosen on this link, else the customer's, else the dealership's."""
    chosen = request.session.get(language_session_key(checkin))
    for language in (chosen, customer_language):
        if language in LANGUAGE_CODES:
            return language
    return dealership_language
