from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from tests.factories import DealershipFactory
from workshop.money import format_money, locale_for


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("nl", "BE", "€\xa01.234,50"),
        ("fr", "BE", "1\u202f234,50\xa0€"),
        ("de", "NL", "1.234,50\xa0€"),
        ("en", "NL", "€\xa01.234,50"),
    ],
)
def test_prices_are_written_the_readers_way(language, country, expected):
    assert format_money(Decimal("1234.50"), "EUR", language, country) == expected


def test_an_unknown_language_country_pair_falls_back_to_the_language():
    assert locale_for("de", "BE") == "de_BE"
    assert locale_for("nl", "JP") == "nl"


@pytest.mark.django_db
def test_the_money_filter_uses_the_active_language_and_the_dealerships_currency():
    dealership = DealershipFactory(country="BE", currency="GBP")
    template = Template("{% load money %}{{ price|money:dealership }}")
    with translation.override("fr"):
        rendered = template.render(Context({"price": Decimal("19.95"), "dealership": dealership}))
    assert rendered == "19,95\xa0£GB"
