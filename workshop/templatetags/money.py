from decimal import Decimal

from django import template
from django.utils.translation import get_language

from workshop.models import Dealership
from workshop.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, dealership: Dealership) -> str:
    """`{{ item.price|money:dealership }}`: the active language's way, the dealership's currency."""
    if amount is None:
        return ""
    return format_money(amount, dealership.currency, get_language() or "en", dealership.country)
