"""The manager's CSV import: upload, preview of what would change, confirm.

The uploaded file is kept in the media store between the preview and the confirmation
(its name in the session, under the dealership's folder), and imported again from
scratch on confirm: what the preview said is checked once more against the data as it
is then, all or nothing.
"""

import secrets
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from integrations.csvfile import CsvReader
from integrations.forms import ImportUploadForm
from integrations.imports import Outcome, import_appointments
from workshop.access import StaffAccess, staff_access
from workshop.models import Appointment, Dealership, Role

SESSION_KEY = "dms_import"
TEMPLATE = "integrations/import.html"


def _manager(request: HttpRequest) -> StaffAccess:
    access = staff_access(request)
    if access.membership.role != Role.MANAGER:
        raise Http404("Managers only")
    return access


def _run(dealership: Dealership, name: str, *, dry_run: bool) -> Outcome:
    outcome = Outcome()
    with default_storage.open(name, "rb") as stream:
        return import_appointments(
            dealership, CsvReader(stream, outcome), dry_run=dry_run, outcome=outcome
        )


def _page(request: HttpRequest, access: StaffAccess, **context: object) -> TemplateResponse:
    return TemplateResponse(
        request,
        TEMPLATE,
        {
            "access": access,
            "membership": access.membership,
            "memberships": access.memberships,
            "dealership": access.dealership,
            "nav": "import",
            **context,
        },
    )


def _forget(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if pending:
        default_storage.delete(pending["name"])


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    access = _manager(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        _forget(request)
        dealership = access.dealership
        name = default_storage.save(
            f"imports/{dealership.pk}/{secrets.token_hex(16)}.csv", form.cleaned_data["file"]
        )
        request.session[SESSION_KEY] = {
            "name": name,
            "dealership": dealership.pk,
            "filename": form.cleaned_data["file"].name[:200],
        }
        outcome = _run(dealership, name, dry_run=True)
        if outcome.problems:
            _forget(request)
        return _page(
            request,
            access,
            form=ImportUploadForm(),
            outcome=outcome,
            filename=form.cleaned_data["file"].name,
        )
    return _page(request, access, form=form)


@login_required
@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    access = _manager(request)
    pending = request.session.get(SESSION_KEY)
    if not pending or pending["dealership"] != access.dealership.pk:
        messages.error(request, _("Upload the file again: the one you previewed is gone."))
        return redirect("integrations:import")
    outcome = _run(access.dealership, pending["name"], dry_run=False)
    if outcome.problems:
        _forget(request)
        return _page(
            request, access, form=ImportUploadForm(), outcome=outcome, filename=pending["filename"]
        )
    _forget(request)
    messages.success(
        request,
        _(
            "Imported: %(new)s new, %(changed)s changed, %(cancelled)s cancelled, "
            "%(unchanged)s unchanged."
        )
        % outcome.counts,
    )
    return redirect(_list_url(access.dealership, outcome))


def _list_url(dealership: Dealership, outcome: Outcome) -> str:
    """The list on the day of the first new appointment, where the manager looks next."""
    url = reverse("workshop:appointments")
    first = outcome.examples.get("new") or outcome.examples.get("changed")
    if not first:
        return url
    starts_at = (
        Appointment.objects.filter(dealership=dealership, external_ref=first[0])
        .values_list("starts_at", flat=True)
        .first()
    )
    if starts_at is None:
        return url
    day: date = timezone.localtime(starts_at, dealership.tz).date()
    return f"{url}?day={day.isoformat()}"


@login_required
@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    _manager(request)
    _forget(request)
    return redirect("integrations:import")
