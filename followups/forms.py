from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from followups.attempts import STAFF_OUTCOMES, Outcome
from followups.models import Priority, Reason


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(o.value, o.label) for o in STAFF_OUTCOMES],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    call_back_at = forms.DateTimeField(
        label=_("Call back at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("Only for a call back at an agreed time, in the dealership's time."),
    )

    def __init__(self, *args, tz=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean(self):
        data = super().clean() or {}
        at = data.get("call_back_at")
        if (
            data.get("outcome") == Outcome.CALL_BACK
            and at is None
            and "call_back_at" not in self.errors
        ):
            self.add_error("call_back_at", _("Say when to call back."))
        if isinstance(at, datetime) and self.tz is not None:
            data["call_back_at"] = at.replace(tzinfo=self.tz)  # typed in the dealership's time
        return data


class AddFollowUpForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why"),
        choices=[
            (r.value, r.label) for r in (Reason.MANUAL, Reason.CUSTOMER_MESSAGE, Reason.DECLINED)
        ],
        initial=Reason.MANUAL,
    )
    about = forms.CharField(label=_("About"), required=False, max_length=200)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Priority.choices, coerce=int, initial=Priority.MEDIUM
    )
    assigned_to: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Assign to"), queryset=None, required=False
    )

    def __init__(self, *args, users=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = users  # type: ignore[attr-defined]


class DetailsForm(forms.ModelForm):
    """What staff may change on a follow-up: how urgent, whose, its tags."""

    class Meta:
        from followups.models import FollowUp

        model = FollowUp
        fields = ["priority", "assigned_to", "tags"]
        widgets = {"tags": forms.CheckboxSelectMultiple}

    def __init__(self, *args, users=None, tags=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = users  # type: ignore[attr-defined]
        self.fields["tags"].queryset = tags  # type: ignore[attr-defined]
