"""Staff forms: what a receptionist types on the appointment page."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from workshop.models import CheckInItem, WorkItem

PRICE_LIMIT = Decimal("99999999.99")


class MoneyField(forms.Field):
    """A price as receptionists type it: 19,95 or 19.95 or € 1.234,50.

    The last comma or dot before one or two digits is the decimal mark; other dots,
    commas and spaces group thousands. Keeps the typed text on errors.
    """

    default_error_messages = {
        "invalid": _("Enter an amount, like 19.95."),
        "too_large": _("That amount is too large."),
    }

    widget = forms.TextInput

    def widget_attrs(self, widget: forms.Widget) -> dict[str, str]:
        attrs = super().widget_attrs(widget)
        attrs.update(
            {
                "inputmode": "decimal",
                "autocomplete": "off",
                "class": "money-input",
                "maxlength": "20",
            }
        )
        return attrs

    def to_python(self, value: object) -> Decimal | None:
        text = re.sub(r"[\s€$£\u00a0\u202f]|EUR|CHF", "", str(value or ""))
        if not text:
            return None
        negative = text.startswith("-")
        text = text.lstrip("+-")
        match = re.fullmatch(r"(\d{1,3}(?:[.,\s]?\d{3})*|\d+)(?:[.,](\d{1,2}))?", text)
        if not match:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        whole = re.sub(r"\D", "", match.group(1))
        cents = (match.group(2) or "0").ljust(2, "0")
        try:
            amount = Decimal(f"{whole}.{cents}")
        except InvalidOperation as error:  # pragma: no cover - the pattern only lets digits in
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error
        if amount > PRICE_LIMIT:
            raise ValidationError(self.error_messages["too_large"], code="too_large")
        return -amount if negative else amount

    def prepare_value(self, value: object) -> object:
        # The way the receptionist's language writes it (39,50 in Dutch), which
        # `to_python` reads back.
        if isinstance(value, Decimal):
            return formats.number_format(value, decimal_pos=2)
        return value


class StaffForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class WorkItemForm(StaffForm):
    description = forms.CharField(
        label=_("Description"),
        max_length=WorkItem._meta.get_field("description").max_length,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    price = MoneyField(
        label=_("Price incl. VAT"), help_text=_("What the customer pays, VAT included.")
    )

    @classmethod
    def for_work_item(cls, work_item: WorkItem, data: object = None) -> "WorkItemForm":
        return cls(
            data,
            initial={
                "description": work_item.description,
                "notes": work_item.notes,
                "price": work_item.price,
            },
        )


def remark_as_work(item: CheckInItem) -> dict[str, object]:
    """The add-work-item dialog prefilled from a remark: its subject and text.

    The description is the subject and the customer's text; when that is too long for a
    description line, the description is shortened and the whole text goes in the notes,
    so nothing the customer wrote is lost.
    """
    limit = WorkItem._meta.get_field("description").max_length or 200
    text = " ".join(item.description.split())
    description = f"{item.subject}: {text}" if text else item.subject
    notes = ""
    if len(description) > limit:
        cut = description[: limit - 1].rsplit(" ", 1)[0]
        description = f"{cut}…"
        notes = item.description
    return {"description": description, "notes": notes, "price": Decimal("0.00")}


class ConvertRemarkForm(WorkItemForm):
    """Confirm adds the work item; cancel adds nothing. Both mark the remark handled."""

    CONVERT = "convert"
    CANCEL = "cancel"

    def __init__(self, *args: Any, action: str = CONVERT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if action == self.CANCEL:
            for field in self.fields.values():
                field.required = False


class HandleItemForm(StaffForm):
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example what you agreed with the customer on the phone."),
    )


class ShareForm(StaffForm):
    visible_to_mechanics = forms.BooleanField(
        label=_("Visible to mechanics"),
        required=False,
        help_text=_("Mechanics see the remark and its photos and videos on the workshop page."),
        widget=forms.CheckboxInput(attrs={"role": "switch", "class": "switch"}),
    )
