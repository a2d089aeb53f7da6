"""Staff forms: what a receptionist types on the appointment page."""

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from notifications import conversation
from notifications.models import Message
from workshop.models import Appointment, Channel, CheckInItem, WorkItem

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


# --- The visit (workshop.visit): the appointment page's dialogs -------------------------


class ArriveForm(StaffForm):
    """The car is at the desk; when it should be ready is optional."""

    promised_ready = forms.DateTimeField(
        label=_("Promised ready (optional)"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("The customer is told this time."),
    )

    def __init__(self, *args: Any, tz: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean_promised_ready(self) -> Any:
        value = self.cleaned_data["promised_ready"]
        # Typed in the dealership's time zone, whatever the request's.
        return value.replace(tzinfo=None).replace(tzinfo=self.tz) if value else None


class MoveForm(StaffForm):
    """A new date and time, in the dealership's time zone, and a note the customer reads."""

    day = forms.DateField(
        label=_("New date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    start = forms.TimeField(
        label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    note = forms.CharField(
        label=_("Note for the customer"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the time changes; the customer reads it with the new time."),
        error_messages={"required": _("Write a note for the customer: why the time changes.")},
    )

    def __init__(self, *args: Any, tz: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        day, start, end = data.get("day"), data.get("start"), data.get("end")
        if day and start and end:
            if end <= start:
                self.add_error("end", _("The end must be after the start."))
            else:
                data["starts_at"] = datetime.combine(day, start, tzinfo=self.tz)
                data["ends_at"] = datetime.combine(day, end, tzinfo=self.tz)
        return data


class CancelForm(StaffForm):
    """Why the workshop cancels: one of the short list, or the receptionist's own words."""

    OTHER = "other"

    reason = forms.ChoiceField(label=_("Reason"), required=False, widget=forms.RadioSelect)
    other = forms.CharField(
        label=_("Other reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The customer reads the reason."),
    )

    def __init__(self, *args: Any, reasons: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reasons = list(reasons)
        field = self.fields["reason"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(n), gettext(text)) for n, text in enumerate(self.reasons)] + [
            (self.OTHER, _("Another reason (write it below)"))
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        chosen, other = data.get("reason", ""), (data.get("other") or "").strip()
        if chosen and chosen != self.OTHER:
            # The reason as written in the code (English): each reader translates it.
            data["text"] = self.reasons[int(chosen)]
        elif other:
            data["text"] = other
        else:
            self.add_error("reason", _("Choose a reason or write one."))
        return data


# --- The conversation: staff's answer to the customer ------------------------------------


class ReplyForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Send by"), choices=Channel.choices, widget=forms.RadioSelect
    )
    body = forms.CharField(
        label=_("Your answer"),
        max_length=conversation.MAX_REPLY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": "reply-segments"}),
    )

    def __init__(self, *args, appointment: Appointment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.appointment = appointment

    def clean_channel(self) -> str:
        channel = self.cleaned_data["channel"]
        if not self.appointment.customer.can_receive(channel):
            if channel == Channel.SMS:
                raise forms.ValidationError(_("The customer cannot get an SMS from us."))
            raise forms.ValidationError(_("The customer has no e-mail address."))
        return channel


def reply_form(
    appointment: Appointment, thread: list[Message], *, quick: str = "", data=None
) -> ReplyForm:
    """The reply form: by the channel the customer last wrote by, prefilled with a quick
    reply when one was picked."""
    initial = {"channel": conversation.reply_channel(appointment, thread), "body": quick}
    return ReplyForm(data, appointment=appointment, initial=initial)
