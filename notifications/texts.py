"""What messages say: built-in templates per purpose, channel and language, a
dealership's own texts (`MessageText`) in their place, and the checks on those.

Built-in texts live in `templates/notifications/<purpose>/<channel>.<language>.*`:
an SMS is one text file; an e-mail is one file with `subject`, `text` and `html`
partials, the html wrapped in the dealership's branded layout. A dealership's own
text uses `{placeholders}` only, never template tags, so a manager cannot reach
anything but the values listed in `PLACEHOLDERS`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date
from django.conf import settings
from django.template import Context, Engine
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from phonenumber_field.phonenumber import PhoneNumber

from notifications import gsm
from notifications.models import PLACEHOLDER, VISIT_PURPOSES, MessageText, Purpose
from workshop.answers import read_answers
from workshop.models import (
    Appointment,
    AppointmentEvent,
    Channel,
    Dealership,
    OnlineCheckIn,
)
from workshop.money import format_money, locale_for

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
TEXT_PURPOSES = (Purpose.INVITATION, Purpose.REMINDER, Purpose.CONFIRMATION)

# Placeholders a dealership's own text may use, and what each stands for.
COMMON_PLACEHOLDERS: dict[str, object] = {
    "first_name": _("the customer's first name"),
    "customer_name": _("the customer's full name"),
    "dealership": _("the dealership's name"),
    "dealership_phone": _("the dealership's phone number"),
    "address": _("the dealership's address"),
    "date": _("the appointment's date"),
    "time": _("the appointment's start time"),
    "vehicle": _("make and model"),
    "plate": _("licence plate"),
    "link": _("the customer's check-in link"),
}
PLACEHOLDERS: dict[str, dict[str, object]] = {
    Purpose.INVITATION: COMMON_PLACEHOLDERS,
    Purpose.REMINDER: COMMON_PLACEHOLDERS,
    Purpose.CONFIRMATION: {
        **COMMON_PLACEHOLDERS,
        "accepted": _("the offers the customer accepted, one a line, with prices incl. VAT"),
        "total": _("the total of the accepted offers incl. VAT"),
        "contact": _("the offers the customer wants to hear about"),
        "remarks": _("the subjects of the customer's remarks"),
    },
}
# Quick replies in the conversation (`QuickReply`) use the common ones.
PLACEHOLDERS[Purpose.REPLY] = COMMON_PLACEHOLDERS
# The visit's messages (`workshop.visit.tell`): the common ones and the step's facts.
REBOOK: dict[str, object] = {"booking_url": _("the dealership's booking page, if it has one")}
CALENDAR: dict[str, object] = {
    "calendar_link": _("the appointment for the customer's calendar (.ics)"),
}
PLACEHOLDERS.update(
    {
        Purpose.BOOKED: {**COMMON_PLACEHOLDERS, **CALENDAR},
        Purpose.MOVED: {
            **COMMON_PLACEHOLDERS,
            **CALENDAR,
            "note": _("the note staff wrote when moving the appointment"),
        },
        Purpose.CANCELLED: {
            **COMMON_PLACEHOLDERS,
            **REBOOK,
            "reason": _("why the workshop cancelled"),
        },
        Purpose.CANCEL_ACK: {**COMMON_PLACEHOLDERS, **REBOOK},
        Purpose.ARRIVED: {
            **COMMON_PLACEHOLDERS,
            "ready_time": _("when staff promised the car ready, if they did"),
        },
        Purpose.READY: {
            **COMMON_PLACEHOLDERS,
            "opening_hours": _("the opening hours for collection"),
        },
        Purpose.COLLECTED: COMMON_PLACEHOLDERS,
        Purpose.NO_SHOW: {**COMMON_PLACEHOLDERS, **REBOOK},
        Purpose.REVIEW: {
            **COMMON_PLACEHOLDERS,
            "review_link": _("the dealership's review page, else the customer's rating page"),
        },
    }
)
# After the first unanswered follow-up call (`followups.attempts`): call us, or the link.
PLACEHOLDERS[Purpose.FOLLOWUP_TRIED] = COMMON_PLACEHOLDERS
# Without these the message has no point.
REQUIRED_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    Purpose.INVITATION: ("link",),
    Purpose.REMINDER: ("link",),
    Purpose.CONFIRMATION: (),
    Purpose.REVIEW: ("review_link",),
}
# The facts a step gives its message (`workshop.visit.tell`), typed by staff or set by
# the dealership, so of any length. An SMS that would not fit one segment loses them in
# this order: a value that stands in for it, else the value cut to what fits, else
# nothing (`render`). The phone number, date and link always stay.
SMS_SHRINK_ORDER = ("booking_url", "review_link", "address", "opening_hours", "reason", "note")
CUT_TO_FIT = frozenset({"opening_hours", "reason", "note"})

# The longest values the SMS budget must hold: a 30-character dealership name, a
# 20-character customer name and a link on a 30-character host.
WORST_CASE_HOST = "checkin.dealergroup-example.eu"
WORST_CASE = {
    "first_name": "Maximiliaan-Frederik",
    "customer_name": "Maximiliaan-Frederik Vandenbroucke",
    "dealership": "Garage Vandenbroucke-Dewaele 1",
    "dealership_phone": "+32 9 210 10 10",
    "address": "Kortrijksesteenweg 1124, 9051 Gent",
    "vehicle": "Volkswagen Golf 8 Variant",
    "plate": "1-ABC-123",
    "link": f"https://{WORST_CASE_HOST}/c/" + "A" * 26,
    "calendar_link": f"https://{WORST_CASE_HOST}/c/" + "A" * 26 + "/calendar.ics",
    "review_link": f"https://{WORST_CASE_HOST}/c/" + "A" * 26,
    "ready_time": "24.11. 17:30",
}


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str = ""
    html: str = ""


@dataclass
class Confirmation:
    """What the customer sent, as the confirmation lists it."""

    accepted: list[tuple[str, str]] = field(default_factory=list)  # (offer, price)
    total: str = ""
    contact: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # their subjects, when we may repeat them
    remark_count: int = 0


def language_for(appointment: Appointment) -> str:
    for language in (appointment.customer.language, appointment.dealership.language):
        if language in LANGUAGES:
            return language
    return LANGUAGES[0]


def short_date(appointment: Appointment, language: str) -> str:
    """Fixed width for the SMS budget: 24/11 (24.11. in German)."""
    return _short_day(appointment.local_start, language)


def _short_day(moment: datetime, language: str) -> str:
    return moment.strftime("%d.%m.") if language == "de" else moment.strftime("%d/%m")


def long_date(appointment: Appointment, language: str) -> str:
    pattern = "EEEE, d. MMMM" if language == "de" else "EEEE d MMMM"
    locale = locale_for(language, appointment.dealership.country)
    return format_date(appointment.local_start.date(), pattern, locale=locale)


def confirmation_for(checkin: OnlineCheckIn, language: str) -> Confirmation:
    """The customer's answers as staff have them now (`workshop.answers`, as the done
    page shows them): accepted offers at the price the customer saw, offers to hear
    about, and remarks.

    The remarks' subjects only while the e-mail address and mobile number are the ones
    we had: once the customer changed either on the check-in page, the confirmation (to
    whatever address it now goes) counts the remarks without their words, so a link's
    holder cannot send their own text from the dealership to an address they choose.
    """
    dealership = checkin.appointment.dealership
    sent = read_answers(checkin, language).sent
    remarks = [remark.subject for remark in sent.remarks]
    address_changed = AppointmentEvent.objects.filter(
        appointment_id=checkin.appointment_id,
        kind=AppointmentEvent.Kind.CONTACT_CHANGED,
        actor=AppointmentEvent.Actor.CUSTOMER,
        field__in=["email", "phone"],
    ).exists()
    return Confirmation(
        accepted=[(c.name, money(c.price, dealership, language)) for c in sent.accepted],
        total=money(sent.services_total, dealership, language),
        contact=[c.name for c in sent.contact],
        remarks=[] if address_changed else remarks,
        remark_count=len(remarks),
    )


def money(amount: Decimal, dealership: Dealership, language: str) -> str:
    return format_money(amount, dealership.currency, language, dealership.country)


def calendar_link(appointment: Appointment) -> str:
    """The appointment's .ics behind the customer's link (`portal.views.calendar`)."""
    return f"{appointment.checkin.link}/calendar.ics"


def ready_time(appointment: Appointment, at: datetime | None, language: str) -> str:
    """The promised time, with the date when it is not the day the car came in."""
    if at is None:
        return ""
    local = at.astimezone(appointment.dealership.tz)
    arrived = (appointment.arrived_at or at).astimezone(appointment.dealership.tz)
    if local.date() == arrived.date():
        return local.strftime("%H:%M")
    return f"{_short_day(local, language)} {local.strftime('%H:%M')}"


def visit_values(appointment: Appointment, language: str) -> dict[str, str]:
    """What the visit's messages may say besides the common values."""
    dealership = appointment.dealership
    return {
        "calendar_link": calendar_link(appointment),
        "ready_time": ready_time(appointment, appointment.promised_ready_at, language),
        "opening_hours": " ".join(dealership.opening_hours.split()),
        "reason": appointment.cancel_reason,
        "review_link": dealership.review_url or appointment.checkin.link,
    }


def values_for(
    appointment: Appointment,
    channel: str,
    language: str,
    confirmation: Confirmation | None = None,
) -> dict[str, str]:
    """The placeholder values for one message, as strings."""
    dealership, customer, vehicle = (
        appointment.dealership,
        appointment.customer,
        appointment.vehicle,
    )
    values = {
        "first_name": customer.first_name,
        "customer_name": customer.full_name,
        "dealership": dealership.name,
        "dealership_phone": dealership.phone.as_international
        if isinstance(dealership.phone, PhoneNumber)
        else "",
        "address": dealership.address,
        "date": short_date(appointment, language)
        if channel == Channel.SMS
        else long_date(appointment, language),
        "time": appointment.local_start.strftime("%H:%M"),
        "vehicle": f"{vehicle.make} {vehicle.model}".strip(),
        "plate": vehicle.plate,
        "link": appointment.checkin.link,
        "booking_url": dealership.booking_url,
    }
    if confirmation is not None:
        values["accepted"] = "\n".join(f"{name}: {price}" for name, price in confirmation.accepted)
        values["total"] = confirmation.total
        values["contact"] = ", ".join(confirmation.contact)
        values["remarks"] = ", ".join(confirmation.remarks)
    return values


def fill(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1).strip(), ""), text)


def template_name(purpose: str, channel: str, language: str) -> str:
    extension = "txt" if channel == Channel.SMS else "html"
    return f"notifications/{purpose}/{channel}.{language}.{extension}"


def _render_template(name: str, context: Mapping[str, object], *, autoescape: bool) -> str:
    template = Engine.get_default().get_template(name)
    return template.render(Context(dict(context), autoescape=autoescape))


def contrast_ink(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (#rrggbb), by WCAG luminance."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def logo_url(dealership: Dealership) -> str:
    return f"{settings.SITE_URL}{dealership.logo_url}" if dealership.logo else ""


def render(
    purpose: str,
    channel: str,
    appointment: Appointment,
    *,
    language: str | None = None,
    override: MessageText | None = None,
    confirmation: Confirmation | None = None,
    facts: Mapping[str, str] | None = None,
) -> Rendered:
    """The message for `appointment`, in the customer's language unless told otherwise.

    `appointment` should come with its dealership, customer, vehicle and checkin
    selected, so rendering many messages costs no queries. `facts` are what a visit
    step adds (a staff note); the visit's messages also get `visit_values`.
    """
    language = language or language_for(appointment)
    values = values_for(appointment, channel, language, confirmation)
    if purpose in VISIT_PURPOSES:
        values.update(visit_values(appointment, language))
        values.update({name: " ".join(str(value).split()) for name, value in (facts or {}).items()})
    dealership = appointment.dealership
    context: dict[str, object] = {
        **values,
        "appointment": appointment,
        "customer": appointment.customer,
        "confirmation": confirmation,
        "brand_colour": dealership.brand_colour,
        "brand_ink": contrast_ink(dealership.brand_colour),
        "language": language,
    }
    if channel == Channel.SMS:
        if override is not None:
            body = override.body

            def sms(values: Mapping[str, str]) -> str:
                return gsm.clean_sms(fill(body, values))
        else:
            name = template_name(purpose, channel, language)

            def sms(values: Mapping[str, str]) -> str:
                return gsm.clean_sms(
                    _render_template(name, {**context, **values}, autoescape=False)
                )

        return Rendered(text=_fit_one_segment(sms, values, appointment))

    if override is not None:
        subject = fill(override.subject, values)
        text = fill(override.body, values)
        content = _text_as_html(text)
    else:
        name = template_name(purpose, channel, language)
        subject = _render_template(f"{name}#subject", context, autoescape=False)
        text = _render_template(f"{name}#text", context, autoescape=False)
        content = _render_template(f"{name}#html", context, autoescape=True)
    html = _render_template(
        "notifications/email_layout.html",
        {
            **context,
            "subject": " ".join(subject.split()),
            "content": mark_safe(content),  # noqa: S308 - rendered with autoescape above
            "logo_url": logo_url(dealership),
            "dealership_obj": dealership,
        },
        autoescape=True,
    )
    return Rendered(text=_tidy_text(text), subject=" ".join(subject.split()), html=html)


def _fit_one_segment(
    sms: Callable[[Mapping[str, str]], str], values: dict[str, str], appointment: Appointment
) -> str:
    """The SMS in one segment: a long booking address, review page, street address or
    free text (`SMS_SHRINK_ORDER`) gives way, so the phone number, date and link stay."""
    text = sms(values)
    for name in SMS_SHRINK_ORDER:
        if gsm.segments(text) <= 1:
            break
        value = values.get(name, "")
        if not value:
            continue
        if name == "review_link":
            values = {**values, name: appointment.checkin.link}
        elif name in CUT_TO_FIT:
            # Its room: what the text leaves without it, less what its own words (the
            # "Open:" before the hours) take, found by trying.
            room = gsm.SINGLE_SEGMENT - gsm.septets(sms({**values, name: ""}))
            cut = _cut(value, room)
            while cut and gsm.segments(sms({**values, name: cut})) > 1:
                room -= max(gsm.septets(sms({**values, name: cut})) - gsm.SINGLE_SEGMENT, 1)
                cut = _cut(value, room)
            values = {**values, name: cut}
        else:
            values = {**values, name: ""}
        text = sms(values)
    return text


def _cut(text: str, room: int) -> str:
    """`text` in at most `room` GSM-7 septets, cut at a word with "..."; nothing when
    too little of it would be left to make sense."""
    text = gsm.to_gsm7(text)
    if gsm.septets(text) <= room:
        return text
    if room < 15:
        return ""
    cut = text
    while cut and gsm.septets(cut) > room - 3:
        cut = cut[:-1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(" ,.;:-") + "..."


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy)


def _text_as_html(text: str) -> str:
    from django.utils.html import urlize

    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    return "".join(
        "<p>" + urlize(escape(p), autoescape=False).replace("\n", "<br>") + "</p>"
        for p in paragraphs
    )


# --- Checking a dealership's own text -----------------------------------------------


def unknown_placeholders(purpose: str, text: str) -> list[str]:
    allowed = PLACEHOLDERS.get(purpose, {})
    return [name for name in PLACEHOLDER.findall(text) if name.strip() not in allowed]


def _stray_braces(text: str) -> bool:
    return "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text)


def check_override(
    *, purpose: str, channel: str, language: str, subject: str, body: str
) -> dict[str, list[object]]:
    """Field errors for a dealership's own text; empty when it may be saved."""
    errors: dict[str, list[object]] = {}
    allowed = ", ".join("{%s}" % name for name in PLACEHOLDERS.get(purpose, {}))  # noqa: UP031
    for field_name, text in (("subject", subject), ("body", body)):
        unknown = unknown_placeholders(purpose, text)
        if unknown:
            errors.setdefault(field_name, []).append(
                format_lazy(
                    _("Unknown placeholder {unknown}. You can use: {allowed}."),
                    unknown=", ".join("{%s}" % name for name in unknown),  # noqa: UP031
                    allowed=allowed,
                )
            )
        elif _stray_braces(text):
            errors.setdefault(field_name, []).append(
                _("Curly braces are only for placeholders, like {link}.")
            )
    for name in REQUIRED_PLACEHOLDERS.get(purpose, ()):
        if "{%s}" % name not in body.replace(" ", ""):  # noqa: UP031
            errors.setdefault("body", []).append(
                format_lazy(_("The text must contain {placeholder}."), placeholder="{%s}" % name)  # noqa: UP031
            )
    if channel == Channel.EMAIL and not subject.strip():
        errors.setdefault("subject", []).append(_("An e-mail needs a subject."))
    if channel == Channel.SMS and not errors.get("body"):
        errors.update(_check_sms_budget(purpose, body))
    return errors


def _check_sms_budget(purpose: str, body: str) -> dict[str, list[object]]:
    unsendable = gsm.unsendable(body)
    if unsendable:
        return {
            "body": [
                format_lazy(
                    _("An SMS cannot carry these characters: {characters}"),
                    characters=" ".join(unsendable),
                )
            ]
        }
    if purpose not in (Purpose.INVITATION, Purpose.REMINDER, *VISIT_PURPOSES):
        return {}
    # Free text (a note, a reason, opening hours) and long addresses are cut to fit
    # when sent (`_fit_one_segment`): the budget is for the rest.
    worst = gsm.clean_sms(
        fill(body, {**WORST_CASE, "address": "", "date": "24.11.", "time": "08:30"})
    )
    length = gsm.septets(worst)
    if length > gsm.SINGLE_SEGMENT:
        return {
            "body": [
                format_lazy(
                    _(
                        "Too long for one SMS: with a 30-character dealership name, a "
                        "20-character customer name and the link it comes to {length} "
                        "characters; the limit is {limit}."
                    ),
                    length=length,
                    limit=gsm.SINGLE_SEGMENT,
                )
            ]
        }
    return {}
