from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file from your DMS"),
        help_text=_("One line per planned work line; the columns are described in the manual."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_UPLOAD_MAX_MB
        if upload.size > limit * 1024 * 1024:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s MB. Split it, or import it with the command.")
                % {"limit": limit}
            )
        if not upload.size:
            raise forms.ValidationError(_("The file is empty."))
        return upload
