"""Small helpers for the staff templates."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

register = template.Library()


@register.simple_tag
def icon(name: str, label: str = "", css: str = "") -> str:
    """An icon from the sprite in `workshop/_icons.html`.

    Decorative without `label`; with one it is an image with that text alternative.
    """
    classes = f"icon icon-{name} {css}".strip()
    if label:
        return format_html(
            '<svg class="{}" role="img" aria-label="{}"><title>{}</title><use href="#i-{}"></use></svg>',
            classes,
            label,
            label,
            name,
        )
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="#i-{}"></use></svg>',
        classes,
        name,
    )


@register.filter
def initials(user) -> str:
    """R.R. for Rita Receptie; the username when the name is empty."""
    if user is None:
        return ""
    parts = [p for p in (user.first_name, user.last_name) if p]
    return "".join(p[0].upper() for p in parts) or user.get_username()[:2].upper()


@register.filter
def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@register.simple_tag
def event_change(event, dealership) -> dict[str, str]:
    """What a timeline event changed, readable: a label, the old and the new value."""
    from workshop.models import AppointmentEvent, Channel
    from workshop.money import format_money

    Kind = AppointmentEvent.Kind
    labels = {
        "email": _("E-mail"),
        "phone": _("Mobile phone"),
        "preferred_channel": _("Preferred channel"),
        "description": _("Description"),
        "notes": _("Notes"),
        "price": _("Price incl. VAT"),
        "visible_to_mechanics": _("Visible to mechanics"),
    }

    def readable(field: str, value: str) -> str:
        if not value:
            return ""
        if field == "price":
            try:
                return format_money(
                    Decimal(value), dealership.currency, get_language() or "en", dealership.country
                )
            except InvalidOperation:
                return value
        if field == "visible_to_mechanics":
            return str(_("yes") if value == "yes" else _("no"))
        if field == "preferred_channel":
            return str(dict(Channel.choices).get(value, value))
        return value

    if event.field:
        return {
            "label": str(labels.get(event.field, event.field)),
            "old": readable(event.field, event.old_value),
            "new": readable(event.field, event.new_value),
        }
    by_kind = {
        Kind.ITEM_HANDLED: ("note", _("Note"), event.new_value),
        Kind.ITEM_CONVERTED: ("description", _("Work item"), event.new_value),
        Kind.WORK_ITEM_ADDED: ("price", _("Price incl. VAT"), event.new_value),
        Kind.WORK_ITEM_REMOVED: ("price", _("Price incl. VAT"), event.old_value),
    }
    if event.kind in by_kind:
        field, label, value = by_kind[event.kind]
        if value and value != event.detail:
            return {"label": str(label), "old": "", "new": readable(field, value)}
    return {"label": "", "old": "", "new": ""}
