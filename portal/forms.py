"""The customer's forms. Every message is translated and shown next to its field."""

import uuid
from datetime import date, timedelta
from typing import Any

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from phonenumber_field.formfields import PhoneNumberField

from workshop import visit
from workshop.answers import OfferChoice, OfferLine
from workshop.models import Channel, CheckInItem, Customer, Offer

REMARK_DESCRIPTION_MAX = 2000


class ContactForm(forms.Form):
    preferred_channel = forms.ChoiceField(
        label=_("How should we reach you?"),
        choices=Channel.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, region: str, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "preferred_channel": customer.preferred_channel,
                "phone": customer.phone.as_international if customer.phone else "",
                "email": customer.email,
            },
        )
        super().__init__(*args, **kwargs)
        # Parsed with the dealership's country as the default region, stored E.164.
        self.fields["phone"] = PhoneNumberField(
            label=_("Mobile phone number"),
            region=region,
            required=False,
            widget=forms.TextInput(
                attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}
            ),
        )
        self.fields["email"] = forms.EmailField(
            label=_("E-mail address"),
            required=False,
            max_length=254,
            widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        )

    def clean(self) -> dict:
        data = super().clean() or {}
        channel = data.get("preferred_channel")
        phone = data.get("phone")
        if channel == Channel.SMS and "phone" not in self.errors:
            if not phone:
                self.add_error("phone", _("Enter your mobile number to get text messages."))
            elif phonenumbers.number_type(phone) == phonenumbers.PhoneNumberType.FIXED_LINE:
                self.add_error(
                    "phone", _("This looks like a landline, which cannot receive text messages.")
                )
        if channel == Channel.EMAIL and not data.get("email") and "email" not in self.errors:
            self.add_error("email", _("Enter your e-mail address to get e-mails."))
        return data

    def changes(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            "preferred_channel": data["preferred_channel"],
            "phone": data["phone"] or "",
            "email": data["email"],
        }


OFFER_CHOICES = [
    (OfferChoice.ACCEPT, _("Yes, add it")),
    (OfferChoice.CONTACT, _("Tell me more first")),
    (OfferChoice.NONE, _("No, thank you")),
]


class ServicesForm(forms.Form):
    """One radio group per offer line, named `offer-<id>`, set to the current answer.

    An offer no longer in the catalogue offers only what its line allows (keep the
    answer, or take it back)."""

    def __init__(self, *args: Any, lines: list[OfferLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[self.field_name(line.offer)] = forms.ChoiceField(
                label=line.name,
                choices=[(value, label) for value, label in OFFER_CHOICES if value in line.choices],
                initial=line.current,
                widget=forms.RadioSelect,
                required=False,
            )

    @staticmethod
    def field_name(offer: Offer) -> str:
        return f"offer-{offer.pk}"

    def changed_choices(self) -> dict[Offer, str]:
        """The answers that differ from the current ones; offers the form carried no
        answer for are left as they are."""
        changed = {}
        for line in self.lines:
            choice = self.cleaned_data.get(self.field_name(line.offer))
            if choice and choice != line.current:
                changed[line.offer] = choice
        return changed


class RemarkForm(forms.Form):
    subject = forms.CharField(
        label=_("Subject"),
        max_length=CheckInItem._meta.get_field("subject").max_length,
        help_text=_("For example: noise when braking"),
    )
    description = forms.CharField(
        label=_("Tell us more"),
        required=False,
        max_length=REMARK_DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("When does it happen? Since when? Optional."),
    )
    # New with every form shown: the same form posted twice adds one remark.
    key = forms.CharField(
        widget=forms.HiddenInput, required=False, initial=lambda: str(uuid.uuid4())
    )

    def clean_subject(self) -> str:
        return self.cleaned_data["subject"].strip()

    def clean_key(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.cleaned_data["key"])
        except ValueError:
            return None  # a page from before the key: the remark is added without one

    def refuse_past_limit(self, limit: int) -> None:
        self.add_error(
            None,
            ngettext(
                "A check-in can have at most %(limit)d remark. Please add this to it, "
                "or tell us when you bring the car in.",
                "A check-in can have at most %(limit)d remarks. Please add this to one "
                "of them, or tell us when you bring the car in.",
                limit,
            )
            % {"limit": limit},
        )


# --- The visit: cancel, another date, rating (`portal.visit_views`) ------------------------

CANCEL_REASON_MAX = 500
DATE_NOTE_MAX = 500
# How far ahead a customer may ask for another date.
OTHER_DATE_MAX_DAYS = 90


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you cancelling? (optional)"),
        required=False,
        max_length=CANCEL_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_reason(self) -> str:
        return self.cleaned_data["reason"].strip()


DAY_PARTS = [
    ("morning", pgettext_lazy("part of the day", "Morning")),
    ("afternoon", pgettext_lazy("part of the day", "Afternoon")),
]
CHOICE_LABELS = (_("First choice"), _("Second choice (optional)"), _("Third choice (optional)"))


class OtherDateForm(forms.Form):
    """Up to three preferred days, each in the morning or the afternoon, and a note.

    `today` is the dealership's today: only later days, up to OTHER_DATE_MAX_DAYS ahead."""

    DAYS = visit.MAX_PREFERRED_DAYS

    note = forms.CharField(
        label=_("Anything else we should know? (optional)"),
        required=False,
        max_length=DATE_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.last_day = today + timedelta(days=OTHER_DATE_MAX_DAYS)
        attrs = {
            "type": "date",
            "min": (today + timedelta(days=1)).isoformat(),
            "max": self.last_day.isoformat(),
        }
        for n in range(1, self.DAYS + 1):
            self.fields[f"day_{n}"] = forms.DateField(
                label=CHOICE_LABELS[n - 1],
                required=False,
                input_formats=["%Y-%m-%d"],
                widget=forms.DateInput(attrs=attrs, format="%Y-%m-%d"),
            )
            self.fields[f"part_{n}"] = forms.ChoiceField(
                label=_("Time of day"),
                choices=DAY_PARTS,
                initial="morning",
                required=False,
                widget=forms.RadioSelect,
            )
        self.order_fields(
            [*(f"{p}_{n}" for n in range(1, self.DAYS + 1) for p in ("day", "part")), "note"]
        )

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"day_{n}"], self[f"part_{n}"]) for n in range(1, self.DAYS + 1)]

    def clean(self) -> dict:
        data = super().clean() or {}
        preferred: list[tuple[date, str]] = []
        for n in range(1, self.DAYS + 1):
            day, part = data.get(f"day_{n}"), data.get(f"part_{n}")
            if day is None:
                continue
            if not self.today < day <= self.last_day:
                self.add_error(
                    f"day_{n}",
                    _("Choose a day after today, at most %(days)d days ahead.")
                    % {"days": OTHER_DATE_MAX_DAYS},
                )
            elif not part:
                self.add_error(f"part_{n}", _("Choose morning or afternoon."))
            elif (day, part) not in preferred:
                preferred.append((day, part))
        if not preferred and not self.errors:
            self.add_error("day_1", _("Choose at least one day that suits you."))
        data["preferred"] = preferred
        data["note"] = (data.get("note") or "").strip()
        return data


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("How was your visit?"),
        choices=[
            (5, _("5 stars: excellent")),
            (4, _("4 stars: good")),
            (3, _("3 stars: fair")),
            (2, _("2 stars: poor")),
            (1, _("1 star: very poor")),
        ],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose from 1 to 5 stars.")},
    )
    comment = forms.CharField(
        label=_("Tell us more (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean_comment(self) -> str:
        return self.cleaned_data["comment"].strip()
