"""A dealership's brand colour as CSS variables, with text colours that keep contrast.

The colour comes from staff, so it can be anything: light yellow as well as navy.
Text on the brand colour is white or black, whichever reads better; the brand colour
as text (links, headings) is darkened until it reads on the page background.
"""

from collections.abc import Iterable

PAGE_BACKGROUND = "#f4f5f7"
MIN_CONTRAST = 4.5


def _channels(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: Iterable[float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def mix(colour: str, other: str, amount: float) -> str:
    """`amount` of `other` into `colour`."""
    return _hex(
        c * (1 - amount) + o * amount
        for c, o in zip(_channels(colour), _channels(other), strict=True)
    )


def readable_on(background: str, colour: str) -> str:
    """`colour`, darkened just enough to read on `background`."""
    for step in range(21):
        candidate = mix(colour, "#000000", step / 20)
        if contrast(candidate, background) >= MIN_CONTRAST:
            return candidate
    return "#000000"


def theme_css(colour: str) -> str:
    brand = "#" + colour.lstrip("#").lower()
    ink = "#ffffff" if contrast(brand, "#ffffff") >= MIN_CONTRAST else "#000000"
    text = readable_on(PAGE_BACKGROUND, brand)
    return (
        ":root{"
        f"--brand:{brand};--brand-ink:{ink};--brand-text:{text};"
        f"--brand-soft:{mix(brand, '#ffffff', 0.9)};--brand-line:{mix(brand, '#ffffff', 0.55)}"
        "}\n"
    )
