"""GSM-7, the alphabet one 160-character SMS segment is written in (3GPP TS 23.038).

A single character outside it switches the whole message to UCS-2, 70 characters a
segment, and dealers pay per segment: SMS text is made GSM-7 before it is sent.
"""

import unicodedata

# The default alphabet (the escape code 0x1B left out).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, so it counts twice.
EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_SEGMENT = 160
MULTI_SEGMENT = 153  # each part of a longer message gives 7 septets to the header
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTI_SEGMENT = 67

# Typography that word processors, translators and Babel put in, and its GSM-7 stand-in.
_REPLACEMENTS = {
    "\u00a0": " ",  # no-break space (Babel's "€ 19,95")
    "\u202f": " ",  # narrow no-break space (French "19,95 €")
    "\u2007": " ",
    "\u2009": " ",
    "\u200b": "",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\t": " ",
    "ç": "c",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "œ": "oe",
    "Œ": "OE",
}


GSM7 = BASIC | EXTENSION


def is_gsm7(text: str) -> bool:
    return GSM7.issuperset(text)


def septets(text: str) -> int:
    """Length in GSM-7 septets: extension characters count twice."""
    return sum(2 if char in EXTENSION else 1 for char in text)


def segments(text: str) -> int:
    if not text:
        return 0
    if is_gsm7(text):
        length = septets(text)
        return 1 if length <= SINGLE_SEGMENT else -(-length // MULTI_SEGMENT)
    length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= UCS2_SINGLE_SEGMENT else -(-length // UCS2_MULTI_SEGMENT)


def to_gsm7(text: str) -> str:
    """The text in GSM-7: curly quotes and odd spaces made plain, accents GSM-7 lacks
    dropped (ê → e, Š → S), anything else that has no stand-in replaced by "?"."""
    if GSM7.issuperset(text):
        return text  # most texts: nothing to change
    out = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        if GSM7.issuperset(char):
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in base if not unicodedata.combining(c))
        out.append(base if base and is_gsm7(base) else "?")
    return "".join(out)


def unsendable(text: str) -> list[str]:
    """The characters of `text` that have no GSM-7 stand-in, each once."""
    return sorted({char for char in text if char != "?" and to_gsm7(char) == "?"})


def clean_sms(text: str) -> str:
    """SMS text as it is sent: GSM-7, lines trimmed, no blank runs, no trailing space."""
    lines = [" ".join(line.split()) for line in to_gsm7(text).splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()
