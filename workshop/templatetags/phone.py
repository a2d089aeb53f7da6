"""Phone numbers in the portal and staff pages, never broken across two lines.

"+32 9 210 10 10" has spaces, so a narrow column would wrap it; the `phone` class
(white-space: nowrap, in portal.css and staff.css) keeps it whole. The filters return
safe HTML, so they also work as values inside `{% blocktranslate with ... %}`.
"""

from django import template
from django.utils.html import format_html
from phonenumber_field.phonenumber import PhoneNumber

register = template.Library()


@register.filter
def phone(number: PhoneNumber | None) -> str:
    """`{{ customer.phone|phone }}`: the number in international format, on one line."""
    if not number:
        return ""
    return format_html('<span class="phone">{}</span>', number.as_international)


@register.filter
def phone_link(number: PhoneNumber | None) -> str:
    """`{{ dealership.phone|phone_link }}`: the same, as a link that dials it."""
    if not number:
        return ""
    return format_html(
        '<a class="phone" href="tel:{}">{}</a>', number.as_e164, number.as_international
    )
