"""One-word answers: "Ja", "OK!", "d'accord", "👍" confirm; "nee", "Non.", "kan niet" decline.

Recognised in English, Dutch, French and German whatever the customer's language (people
answer in the language they think in, not the one we wrote in). A reply is an answer only
when every word of it is a yes (or every word a no), give or take a thank-you or a please;
anything else ("Ja, maar om 9u?") is a message for staff and is never guessed at.
"""

import re
import unicodedata
from enum import StrEnum


class Answer(StrEnum):
    YES = "yes"
    NO = "no"


YES_WORDS = frozenset(
    {
        # English
        "ok", "okay", "okey", "k", "yes", "yep", "yeah", "yup", "sure", "fine", "confirmed",
        "confirm", "great", "perfect", "good", "alright", "allright",
        # Dutch
        "ja", "jawel", "jazeker", "oke", "oké", "okee", "akkoord", "prima", "goed", "top",
        "zeker", "bevestigd", "bevestig", "komt goed", "in orde",
        # French
        "oui", "ouais", "d'accord", "daccord", "dac", "parfait", "confirmé", "confirme",
        "entendu", "très bien", "tres bien", "bien", "c'est bon", "ça marche", "ca marche",
        # German
        "jawohl", "genau", "klar", "gut", "passt", "bestätigt", "bestätige", "einverstanden",
        "in ordnung", "alles klar", "geht klar",
        # Emoji (skin tones and variation selectors are stripped first)
        "👍", "👌", "✅", "✔", "🙂", "😊",
    }
)  # fmt: skip

NO_WORDS = frozenset(
    {
        # English
        "no", "nope", "nah", "cannot", "can't", "cant", "can not", "not coming",
        "cancel it", "i can't", "i cannot",
        # Dutch
        "nee", "neen", "nein", "kan niet", "ik kan niet", "lukt niet", "gaat niet",
        "niet",
        # French
        "non", "impossible", "pas possible", "je ne peux pas", "peux pas", "annulé",
        # German
        "kann nicht", "ich kann nicht", "geht nicht", "nicht",
        # Emoji
        "👎", "❌",
    }
)  # fmt: skip

# Said around an answer without changing it.
FILLER = frozenset(
    {
        "thanks", "thank you", "thx", "please", "see you", "hi", "hello", "sorry",
        "unfortunately", "bedankt", "dank je", "dank u", "dankjewel", "dankuwel", "graag",
        "hoor", "groeten", "helaas", "merci", "merci beaucoup", "svp",
        "s'il vous plaît", "s'il vous plait", "bonjour", "désolé", "desole", "malheureusement",
        "danke", "danke schön", "danke schon", "vielen dank", "bitte", "hallo", "leider",
        "gerne", "mfg", "lg", "gr", "grtz", "ciao",
    }
)  # fmt: skip

# Longest phrases first, so "ik kan niet" is taken before "kan niet" and "niet".
PHRASES = sorted((w for w in YES_WORDS | NO_WORDS | FILLER if " " in w), key=len, reverse=True)
MAX_WORDS = 8  # longer than this is a message, however agreeable


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"[\u2018\u2019\u02bc`\u00b4]", "'", text)  # curly and other apostrophes
    text = re.sub(r"[\U0001F3FB-\U0001F3FF\uFE0F\u200D]", "", text)  # skin tones, selectors
    # Punctuation is space, except the apostrophe inside a word (d'accord, can't).
    text = "".join(
        " " if unicodedata.category(ch).startswith(("P", "Z")) and ch != "'" else ch for ch in text
    )
    text = re.sub(r"(^|\s)'|'(\s|$)", " ", text)
    # Emoji stand as words of their own ("ok👍").
    text = "".join(f" {ch} " if unicodedata.category(ch) == "So" else ch for ch in text)
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    text = f" {text} "
    for phrase in PHRASES:
        text = text.replace(f" {phrase} ", f" {phrase.replace(' ', '_')} ")
    return [word.replace("_", " ") for word in text.split()]


def parse(text: str) -> Answer | None:
    """YES or NO when the whole reply means that, else None (a message for staff)."""
    words = _words(_normalised(text))
    if not words or len(words) > MAX_WORDS:
        return None
    # Without the thank-yous, read again: "kann leider nicht" is "kann nicht".
    meant = _words(" ".join(word for word in words if word not in FILLER))
    if not meant:
        return None
    if all(word in YES_WORDS for word in meant):
        return Answer.YES
    if all(word in NO_WORDS for word in meant):
        return Answer.NO
    return None
