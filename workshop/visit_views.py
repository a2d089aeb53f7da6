"""The visit on the staff pages: the appointment page's visit section and its dialogs
(arrived, ready, collected, no-show, move, cancel), and the list's "Arrived" button.

Thin: `workshop.visit` decides which step applies (`visit.steps`) and takes it; these
views only read the forms and say what happened. A step that no longer applies (another
receptionist was faster) is a message on the page, never an error page.
"""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from workshop import visit
from workshop.access import StaffRequest, get_appointment, staff_access
from workshop.forms import ArriveForm, CancelForm, MoveForm
from workshop.models import Appointment, CheckInItem
from workshop.views import _changed, _dialog, _done, _posted

Status = Appointment.Status

# The dialogs: their title, and the partial of the appointment page with their form.
DIALOGS = {
    "arrive": (pgettext_lazy("visit step", "Car arrived"), "arrive_form"),
    "ready": (pgettext_lazy("visit step", "Car ready"), "step_form"),
    "collect": (pgettext_lazy("visit step", "Car collected"), "step_form"),
    "no_show": (pgettext_lazy("visit step", "Did not come"), "step_form"),
    "move": (pgettext_lazy("visit step", "Move the appointment"), "move_form"),
    "cancel": (pgettext_lazy("visit step", "Cancel the appointment"), "cancel_form"),
}


# --- The steps ---------------------------------------------------------------------------


def _no_longer(request: StaffRequest, appointment: Appointment) -> HttpResponse:
    messages.warning(
        request,
        _("That step no longer applies: the appointment is now “%(state)s”. Nothing was changed.")
        % {"state": appointment.get_status_display()},
    )
    return _changed(request, appointment)


def _fresh(appointment: Appointment) -> Appointment:
    appointment.refresh_from_db(fields=["status"])
    return appointment


@login_required
@require_http_methods(["GET", "POST"])
def visit_step(request: StaffRequest, pk: int, step: str) -> HttpResponse:
    """One step of the visit: its confirmation dialog (GET), and taking it (POST)."""
    if step not in DIALOGS:
        raise Http404("No such step")
    appointment, access = get_appointment(staff_access(request), pk)
    now = timezone.now()
    if step not in visit.steps(appointment, now):
        return _no_longer(request, appointment)
    tz = appointment.dealership.tz
    data = _posted(request)
    form: ArriveForm | MoveForm | CancelForm | None = None
    if step == "arrive":
        form = ArriveForm(data, tz=tz)
    elif step == "move":
        local = appointment.starts_at.astimezone(tz)
        form = MoveForm(
            data,
            tz=tz,
            initial={
                "day": local.date(),
                "start": local.time(),
                "end": appointment.ends_at.astimezone(tz).time(),
            },
        )
    elif step == "cancel":
        form = CancelForm(data, reasons=visit.WORKSHOP_REASONS)
    if request.method == "POST" and (form is None or form.is_valid()):
        if isinstance(form, MoveForm) and _same_time(form, appointment):
            form.add_error("day", _("That is the time it already has: choose another."))
        else:
            done, message = _take(step, appointment, request.user, form, now)
            if done:
                return _done(request, appointment, message)
            return _no_longer(request, _fresh(appointment))
    title, partial = DIALOGS[step]
    context: dict = {"form": form, "step": step, "next_move": appointment.moves + 1}
    context["many_moves"] = appointment.moves >= visit.MANY_MOVES
    if step == "move":
        request_item = (
            CheckInItem.objects.open()
            .filter(checkin__appointment=appointment, kind=CheckInItem.Kind.DATE_REQUEST)
            .order_by("-submitted_at")
            .first()
        )
        context["date_request"] = request_item
        context["wishes"] = visit.preferred_days(request_item) if request_item else []
    return _dialog(
        request, access, appointment, title=str(title), form_partial=partial, context=context
    )


def _same_time(form: MoveForm, appointment: Appointment) -> bool:
    data = form.cleaned_data
    return (data["starts_at"], data["ends_at"]) == (appointment.starts_at, appointment.ends_at)


def _take(step, appointment, user, form, now: datetime) -> tuple[bool, str]:
    """Takes the step; returns whether it changed the appointment and what to say."""
    if step == "arrive":
        ready_at = form.cleaned_data["promised_ready"]
        done = visit.arrive(appointment, user=user, promised_ready_at=ready_at, now=now)
        return done, _("Marked arrived; the customer is told we have the car.")
    if step == "ready":
        return visit.ready(appointment, user=user, now=now), _(
            "Marked ready; the customer is told the car can be collected."
        )
    if step == "collect":
        return visit.collect(appointment, user=user, now=now), _("Marked collected.")
    if step == "no_show":
        return visit.no_show(appointment, user=user, now=now), _("Recorded as a no-show.")
    if step == "move":
        data = form.cleaned_data
        done = visit.move(
            appointment,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            note=data["note"],
            user=user,
            now=now,
        )
        return done, _("Moved; the customer is told the new time.")
    done = visit.cancel(
        appointment,
        by=Appointment.CancelledBy.WORKSHOP,
        reason=form.cleaned_data["text"],
        user=user,
        now=now,
    )
    return done, _("Cancelled; the customer is told.")


@login_required
@require_POST
def arrive_from_list(request: StaffRequest) -> HttpResponse:
    """The list's "Arrived" button (a tablet at the desk): one tap, no promised time."""
    try:
        pk = int(request.POST.get("a", ""))  # short: one button a row on the list
    except ValueError as error:
        raise Http404("No appointment") from error
    appointment, _access = get_appointment(staff_access(request), pk)
    name = appointment.customer.full_name
    if visit.arrive(appointment, user=request.user):
        messages.success(
            request,
            _("%(name)s (%(plate)s) arrived; the customer is told.")
            % {"name": name, "plate": appointment.vehicle.plate},
        )
    else:
        messages.warning(
            request,
            _("%(name)s (%(plate)s) is no longer booked: nothing was changed.")
            % {"name": name, "plate": appointment.vehicle.plate},
        )
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return redirect(back)
    return redirect(reverse("workshop:appointments"))
