"""The customer's forms. Every message is translated and shown next to its field."""

import uuid
from typing import Any

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from phonenumber_field.formfields import PhoneNumberField

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
