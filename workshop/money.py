"""Prices as customers and staff read them: incl. VAT, in the dealership's currency,
written the way the reader's language and the dealership's country write money."""

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency


def locale_for(language: str, country: str) -> str:
    """`nl` in Belgium is nl_BE; a pair Babel does not know falls back to the language."""
    candidate = f"{language}_{country.upper()}"
    try:
        Locale.parse(candidate)
    except (UnknownLocaleError, ValueError):
        return language
    return candidate


def format_money(amount: Decimal, currency: str, language: str, country: str) -> str:
    return format_currency(amount, currency, locale=locale_for(language, country))
