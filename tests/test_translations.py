"""The Dutch, French and German catalogues: complete, compiled, and what customers see."""

import gettext as gnu_gettext
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from portal.views import STEPS
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory

LANGUAGES = ["nl", "fr", "de"]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def catalog_path(language: str, suffix: str = "po") -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / f"django.{suffix}"


def read_catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as po:
        return read_po(po, locale=language)


def entries(language: str) -> list[Message]:
    return [message for message in read_catalog(language) if message.id]


def forms(value: str | tuple) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    messages = entries(language)
    assert len(messages) > 250  # the catalogue was really read
    untranslated = [m.id for m in messages if not all(s.strip() for s in forms(m.string))]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_messages_have_every_plural_form(language):
    catalog = read_catalog(language)
    plurals = [m for m in catalog if m.id and m.pluralizable]
    assert plurals
    for message in plurals:
        assert len(message.string) == catalog.num_plurals, message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    for message in entries(language):
        wanted = set(PLACEHOLDER.findall(forms(message.id)[0]))
        for string in forms(message.string):
            assert set(PLACEHOLDER.findall(string)) == wanted, (message.id, string)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_file_is_compiled_from_the_po_file(language):
    """Running the app needs no gettext, so a forgotten compilemessages would go unseen."""
    with catalog_path(language, "mo").open("rb") as mo:
        compiled = gnu_gettext.GNUTranslations(mo)
    for message in entries(language):
        if message.pluralizable:
            singular, plural = message.id
            assert compiled.ngettext(singular, plural, 1) == message.string[0]
            assert compiled.ngettext(singular, plural, 2) == message.string[1]
        elif message.context:
            compiled_string = compiled.pgettext(message.context, message.id)
            assert compiled_string == message.string, (message.context, message.id)
        else:
            assert compiled.gettext(message.id) == message.string, message.id


def test_french_punctuation_has_non_breaking_spaces():
    """So "?" and ":" never start a line on a narrow phone screen."""
    for message in entries("fr"):
        for string in forms(message.string):
            assert not re.search(r" [?!:;]", string), string


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("nl", "Start check-in", "Check-in starten"),
        ("nl", "Extra services", "Optionele diensten"),
        ("nl", "Total incl. VAT", "Totaal incl. btw"),
        ("fr", "Online check-in", "Enregistrement en ligne"),
        ("fr", "Total incl. VAT", "Total TVAC"),
        ("fr", "Anything we should know?", "Quelque chose à signaler\u202f?"),
        ("de", "Planned work", "Geplante Arbeiten"),
        ("de", "Total incl. VAT", "Gesamt inkl. MwSt."),
        ("de", "Send check-in", "Check-in senden"),
    ],
)
def test_key_customer_strings_are_translated(language, text, expected):
    with translation.override(language):
        assert gettext(text) == expected


def test_plural_file_counts_follow_each_languages_rules():
    with translation.override("fr"):
        assert ngettext("%(counter)s file", "%(counter)s files", 0) % {"counter": 0} == (
            "0 fichier"
        )
    with translation.override("nl"):
        assert ngettext("%(counter)s file", "%(counter)s files", 0) % {"counter": 0} == (
            "0 bestanden"
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "greeting", "button"),
    [
        ("nl", "Hallo Marie", "Check-in starten"),
        ("fr", "Bonjour Marie", "Commencer l'enregistrement"),
        ("de", "Hallo Marie", "Check-in starten"),
    ],
)
def test_the_customer_page_speaks_the_customers_language(client, language, greeting, button):
    dealership = DealershipFactory(language="en")
    customer = CustomerFactory(dealership=dealership, first_name="Marie", language=language)
    checkin = AppointmentFactory(dealership=dealership, customer=customer).checkin
    html = client.get(reverse("portal:welcome", args=[checkin.token])).content.decode()
    assert f'<html lang="{language}">' in html
    assert greeting in html
    assert button in html  # {% translate %} of a literal is not escaped
    assert "Start check-in" not in html
    with translation.override(language):
        step = gettext("Step %(number)s of %(count)s") % {"number": 1, "count": len(STEPS)}
    assert step in html
