"""Staff pages. Thin: they read, check access and call the flow functions.

Receptionists and managers work the list and the appointment page; mechanics see the
workshop's pages (a day, one appointment) and the job cards. Everything else answers 404 (see
`workshop.access`). A dialog is an htmx partial of the page that opens it, and a page
of its own without JavaScript; a dialog that changes something answers 204 with an
`HX-Trigger` the page listens to.
"""

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import BooleanField, Case, ExpressionWrapper, Prefetch, QuerySet, When
from django.db.models.fields.files import FieldFile
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from config.htmx import page_or_partial
from followups import reading as follow_ups
from notifications import conversation, invitations
from notifications.models import REPLIES_CLOSED
from notifications.timeline import timeline_for
from workshop import checkin as flow
from workshop import visit
from workshop.access import (
    StaffAccess,
    StaffRequest,
    choose_dealership,
    get_appointment,
    get_attachment,
    staff_access,
)
from workshop.answers import read_answers
from workshop.daylist import AppointmentList, Filter, Poll, answers_quiet_polls
from workshop.forms import (
    ConvertRemarkForm,
    HandleItemForm,
    ShareForm,
    WorkItemForm,
    remark_as_work,
    reply_form,
)
from workshop.models import Appointment, Attachment, CheckInItem, WorkItem, late_q
from workshop.serving import serve_file

# How often the receptionist's open list asks whether anything changed.
LIST_REFRESH_SECONDS = 5
# Changes on the appointment page: the page reloads its body when it hears this.
CHANGED_EVENT = "appointmentChanged"

APPOINTMENT_PAGE = "workshop/appointment.html"


def page(
    request: HttpRequest, access: StaffAccess, template: str, context: dict
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            "access": access,
            "membership": access.membership,
            "memberships": access.memberships,
            "dealership": access.dealership,
            **context,
        },
    )


# --- The receptionist's list -----------------------------------------------------------


def _day_from(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return today


def _list_url(**params: object) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in ("", None, Filter.ALL)})
    return reverse("workshop:appointments") + (f"?{query}" if query else "")


@answers_quiet_polls
@login_required
@require_GET
def appointment_list(request: StaffRequest) -> HttpResponse:
    access = staff_access(request)
    if access.is_mechanic:
        return redirect("workshop:workshop_day")
    dealership = access.dealership
    today = access.today()
    day = _day_from(request.GET.get("day", ""), today)
    query = " ".join(request.GET.get("q", "").split())[:100]
    chosen = request.GET.get("filter", Filter.ALL)
    listing = AppointmentList(
        dealership=dealership,
        day=day,
        query=query,
        filter=chosen if chosen in Filter.VALUES else Filter.ALL,
    )
    poll = Poll.of(request)
    if poll and poll.unchanged(listing):
        return HttpResponse(status=204)  # nothing changed: the list stays as it is
    listing.load()
    fingerprint = listing.fingerprint()
    here = {"day": day.isoformat(), "q": query, "filter": listing.filter}
    context = {
        "nav": "appointments",
        "listing": listing,
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "fingerprint": fingerprint,
        # `at`: the dealership shown, so a quiet poll reads all it needs in one round trip.
        "refresh_url": _list_url(**here, known=fingerprint, at=dealership.pk),
        "refresh_seconds": LIST_REFRESH_SECONDS,
        "conversations_waiting": listing.conversations_waiting,
        # The visit: the day's count per state (one query), where "Arrived" comes back to.
        "state_counts": listing.state_counts(),
        "here_url": _list_url(**here),
        "filters": [
            (value, label, _list_url(day=here["day"], q=query, filter=value))
            for value, label in Filter.CHOICES
        ],
        "day_urls": {
            "previous": _list_url(day=(day - timedelta(days=1)).isoformat(), filter=listing.filter),
            "today": _list_url(filter=listing.filter),
            "next": _list_url(day=(day + timedelta(days=1)).isoformat(), filter=listing.filter),
        },
    }
    template = page_or_partial(request, "workshop/appointment_list.html", "#results")
    return page(request, access, template, context)


@login_required
@require_POST
def switch_dealership(request: StaffRequest) -> HttpResponse:
    with contextlib.suppress(ValueError):
        choose_dealership(request, int(request.POST.get("dealership", "")))
    return redirect("workshop:appointments")


# --- The appointment page ----------------------------------------------------------------


def _ready_attachments() -> Prefetch:
    return Prefetch(
        "attachments",
        queryset=Attachment.objects.filter(state=Attachment.State.READY),
        to_attr="ready_attachments",
    )


def appointment_context(appointment: Appointment, *, quick: str = "") -> dict:
    """What the appointment page shows; `quick` picks a quick reply to prefill the
    answer with (by id, from a link, so it works without JavaScript)."""
    work_items = list(appointment.work_items.all())
    checkin = appointment.checkin
    answers = read_answers(checkin, files=True)
    items = answers.staff_items
    timeline = timeline_for(appointment)
    thread = [entry.message for entry in timeline if entry.message is not None]
    quick_replies = conversation.quick_replies(appointment)
    chosen = next((text for reply, text in quick_replies if str(reply.pk) == quick), "")
    return {
        "appointment": appointment,
        "customer": appointment.customer,
        "vehicle": appointment.vehicle,
        "checkin": checkin,
        "items": items,
        "open_count": sum(1 for item in items if item.is_open),
        # What the customer has asked for as they see it (their done page, their
        # confirmation): accepted extra services and their total, at the prices they saw.
        "answered": answers.sent,
        "work_items": work_items,
        "total": sum((w.price for w in work_items), Decimal("0.00")),
        "timeline": timeline,
        # The conversation: every message both ways, oldest first (from the timeline's).
        "thread": thread,
        "unread": sum(1 for message in thread if message.is_unread),
        "quick_replies": quick_replies,
        "reply_form": reply_form(appointment, thread, quick=chosen),
        # Staff answer before the visit, while the car is here and after it.
        "can_reply": appointment.status not in REPLIES_CLOSED,
        # Someone wrote that a message of theirs needs a call back.
        "wrote": any(not message.is_outbound for message in thread),
        "steps": _progress_steps(checkin),
        **follow_ups.for_appointment(appointment),  # the follow-up calls section
        # The visit: its state, the steps staff may take now, the customer's history.
        **visit.visit_context(appointment, items),
    }


def _progress_steps(checkin) -> list[dict]:
    steps = [
        ("invited", pgettext("check-in progress", "Invited"), checkin.invited_at),
        ("opened", pgettext("check-in progress", "Opened"), checkin.opened_at),
        ("answered", pgettext("check-in progress", "Answered"), checkin.answered_at),
        (
            "handled",
            pgettext("check-in progress", "Handled"),
            checkin.handled_at if checkin.answered_at else None,
        ),
    ]
    current = checkin.progress
    return [
        {"key": key, "label": label, "at": at, "done": at is not None, "current": key == current}
        for key, label, at in steps
    ]


@login_required
@require_GET
def appointment_detail(request: StaffRequest, pk: int) -> HttpResponse:
    appointment, access = get_appointment(staff_access(request), pk, office_only=False)
    if access.is_mechanic:  # a link from reception: the workshop's view of it
        return redirect("workshop:workshop_appointment", pk=appointment.pk)
    template = page_or_partial(request, APPOINTMENT_PAGE, "#body", target="appointment-body")
    context = appointment_context(appointment, quick=request.GET.get("quick", ""))
    return page(request, access, template, context)


def _done(request: StaffRequest, appointment: Appointment, message: str) -> HttpResponse:
    """After a change: htmx hears an event and reloads the page body; otherwise a redirect."""
    messages.success(request, message)
    return _changed(request, appointment)


def _changed(request: StaffRequest, appointment: Appointment) -> HttpResponse:
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT)
    return redirect("workshop:appointment", pk=appointment.pk)


def _dialog(
    request: StaffRequest,
    access: StaffAccess,
    appointment: Appointment,
    *,
    title: str,
    form_partial: str,
    context: dict,
) -> TemplateResponse:
    """The dialog as an htmx partial, its form alone after a failed htmx post, else a page."""
    # After a failed post htmx swaps the form alone, keeping the dialog around it.
    partial = form_partial if request.method == "POST" else "dialog"
    return page(
        request,
        access,
        page_or_partial(request, "workshop/dialog_page.html", f"{APPOINTMENT_PAGE}#{partial}"),
        {
            "appointment": appointment,
            "title": title,
            "form_template": f"{APPOINTMENT_PAGE}#{form_partial}",
            "back_url": reverse("workshop:appointment", args=[appointment.pk]),
            **context,
        },
    )


def _posted(request: StaffRequest):
    """The form data of a POST, even an empty one (an unticked switch sends nothing)."""
    return request.POST if request.method == "POST" else None


def _item(appointment: Appointment, item_pk: int, **filters: object) -> CheckInItem:
    return get_object_or_404(
        CheckInItem.objects.submitted().select_related("offer"),
        pk=item_pk,
        checkin__appointment=appointment,
        **filters,
    )


def _already_handled(request: StaffRequest, appointment: Appointment) -> HttpResponse:
    messages.warning(request, _("Someone else handled this item first; nothing was added."))
    return _changed(request, appointment)


@login_required
@require_http_methods(["GET", "POST"])
def convert_item(request: StaffRequest, pk: int, item_pk: int) -> HttpResponse:
    """A remark's add-work-item dialog, prefilled; confirm or cancel both handle the remark."""
    appointment, access = get_appointment(staff_access(request), pk)
    item = _item(appointment, item_pk, kind=CheckInItem.Kind.REMARK)
    if not item.is_open:
        return _already_handled(request, appointment)
    form = ConvertRemarkForm(initial=remark_as_work(item))
    if request.method == "POST":
        action = request.POST.get("action", ConvertRemarkForm.CONVERT)
        form = ConvertRemarkForm(request.POST, action=action)
        try:
            if action == ConvertRemarkForm.CANCEL:
                flow.handle_item(item, request.user)
                return _done(request, appointment, _("Remark marked handled, no work added."))
            if form.is_valid():
                flow.convert_item(item, request.user, **form.cleaned_data)
                return _done(request, appointment, _("Work item added; remark handled."))
        except flow.ItemAlreadyHandled:
            return _already_handled(request, appointment)
    return _dialog(
        request,
        access,
        appointment,
        title=_("Convert to work item"),
        form_partial="convert_form",
        context={"form": form, "item": item},
    )


@login_required
@require_POST
def convert_offer(request: StaffRequest, pk: int, item_pk: int) -> HttpResponse:
    """An accepted offer whose catalogue entry converts: its work item at the offer's price."""
    appointment, _access = get_appointment(staff_access(request), pk)
    item = _item(
        appointment,
        item_pk,
        kind=CheckInItem.Kind.OFFER_ACCEPTED,
        offer__converts_to_work_item=True,
    )
    try:
        work_item = flow.convert_offer(item, request.user)
    except flow.ItemAlreadyHandled:
        return _already_handled(request, appointment)
    return _done(request, appointment, _("Added “%s” to the work items.") % work_item.description)


@login_required
@require_http_methods(["GET", "POST"])
def handle_item(request: StaffRequest, pk: int, item_pk: int) -> HttpResponse:
    """Marks an item handled, with an optional note (say, after calling the customer)."""
    appointment, access = get_appointment(staff_access(request), pk)
    item = _item(appointment, item_pk)
    if not item.is_open:
        return _already_handled(request, appointment)
    form = HandleItemForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            flow.handle_item(item, request.user, note=form.cleaned_data["note"])
        except flow.ItemAlreadyHandled:
            return _already_handled(request, appointment)
        return _done(request, appointment, _("Marked handled."))
    return _dialog(
        request,
        access,
        appointment,
        title=_("Mark handled"),
        form_partial="handle_form",
        context={"form": form, "item": item},
    )


@login_required
@require_http_methods(["GET", "POST"])
def share_item(request: StaffRequest, pk: int, item_pk: int) -> HttpResponse:
    """One switch: the remark and its media visible to mechanics, or not."""
    appointment, access = get_appointment(staff_access(request), pk)
    item = _item(appointment, item_pk, kind=CheckInItem.Kind.REMARK)
    form = ShareForm(_posted(request), initial={"visible_to_mechanics": item.visible_to_mechanics})
    if request.method == "POST" and form.is_valid():
        visible = form.cleaned_data["visible_to_mechanics"]
        flow.share_item(item, request.user, visible=visible)
        return _done(
            request,
            appointment,
            _("Mechanics now see this remark.")
            if visible
            else _("Mechanics no longer see this remark."),
        )
    return _dialog(
        request,
        access,
        appointment,
        title=_("Share with mechanics"),
        form_partial="share_form",
        context={"form": form, "item": item},
    )


def _work_item(appointment: Appointment, work_item_pk: int) -> WorkItem:
    work_item = get_object_or_404(WorkItem, pk=work_item_pk, appointment=appointment)
    if not work_item.is_removable:
        raise Http404("Planned work is changed in the DMS")
    return work_item


@login_required
@require_http_methods(["GET", "POST"])
def add_work_item(request: StaffRequest, pk: int) -> HttpResponse:
    appointment, access = get_appointment(staff_access(request), pk)
    form = WorkItemForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        flow.add_work_item(appointment, request.user, **form.cleaned_data)
        return _done(request, appointment, _("Work item added."))
    return _dialog(
        request,
        access,
        appointment,
        title=_("Add a work item"),
        form_partial="work_item_form",
        context={"form": form, "action": reverse("workshop:add_work_item", args=[pk])},
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit_work_item(request: StaffRequest, pk: int, work_item_pk: int) -> HttpResponse:
    appointment, access = get_appointment(staff_access(request), pk)
    work_item = _work_item(appointment, work_item_pk)
    form = WorkItemForm.for_work_item(work_item, _posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            flow.change_work_item(work_item, request.user, **form.cleaned_data)
        except flow.WorkItemNotRemovable as error:
            raise Http404("Planned work is changed in the DMS") from error
        return _done(request, appointment, _("Work item changed."))
    return _dialog(
        request,
        access,
        appointment,
        title=_("Change a work item"),
        form_partial="work_item_form",
        context={
            "form": form,
            "work_item": work_item,
            "action": reverse("workshop:edit_work_item", args=[pk, work_item.pk]),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def remove_work_item(request: StaffRequest, pk: int, work_item_pk: int) -> HttpResponse:
    appointment, access = get_appointment(staff_access(request), pk)
    work_item = _work_item(appointment, work_item_pk)
    if request.method == "POST":
        flow.remove_work_item(work_item, request.user)
        return _done(request, appointment, _("Removed “%s”.") % work_item.description)
    return _dialog(
        request,
        access,
        appointment,
        title=_("Remove a work item"),
        form_partial="remove_form",
        context={"work_item": work_item},
    )


@login_required
@require_http_methods(["GET", "POST"])
def rotate_link(request: StaffRequest, pk: int) -> HttpResponse:
    """A new customer link; the old one stops working (confirmation first)."""
    appointment, access = get_appointment(staff_access(request), pk)
    if request.method == "POST":
        flow.rotate_link(appointment.checkin, request.user)
        return _done(
            request,
            appointment,
            _("The customer has a new link; the old one no longer works."),
        )
    return _dialog(
        request,
        access,
        appointment,
        title=_("Replace the customer's link"),
        form_partial="rotate_form",
        context={},
    )


@login_required
@require_http_methods(["GET", "POST"])
def resend_invitation(request: StaffRequest, pk: int) -> HttpResponse:
    """Send the check-in invitation again (confirmation first; refused within 10 minutes)."""
    appointment, access = get_appointment(staff_access(request), pk)
    error = ""
    if request.method == "POST":
        try:
            message = invitations.resend_invitation(appointment, request.user)
        except invitations.ResendRefused as refused:
            error = str(refused)
        else:
            return _done(
                request,
                appointment,
                _("The invitation is on its way to %(recipient)s.")
                % {"recipient": message.recipient},
            )
    return _dialog(
        request,
        access,
        appointment,
        title=_("Resend the invitation"),
        form_partial="resend_form",
        context={"error": error, "customer": appointment.customer},
    )


# --- Customer media --------------------------------------------------------------------

VARIANTS = ("file", "display", "thumbnail")


def _media_field(attachment: Attachment, variant: str) -> tuple[FieldFile, str]:
    if variant == "thumbnail" and attachment.thumbnail:
        return attachment.thumbnail, "image/jpeg"
    if variant in ("display", "thumbnail") and attachment.display_file:
        return attachment.display_file, "image/jpeg"
    if variant == "thumbnail" and attachment.kind == Attachment.Kind.VIDEO:
        raise Http404("No poster frame")
    return attachment.file, attachment.content_type or "application/octet-stream"


@login_required
@require_GET
def attachment_file(request: StaffRequest, pk: int, variant: str) -> HttpResponseBase:
    """A customer's photo or video, after the access check (`workshop.serving`)."""
    if variant not in VARIANTS:
        raise Http404("No such variant")
    attachment = get_attachment(staff_access(request), pk)
    field, content_type = _media_field(attachment, variant)
    if not field:
        raise Http404("No file")
    return serve_file(
        request,
        field,
        content_type,
        filename=attachment.original_name if variant == "file" else "",
    )


# --- Mechanics ---------------------------------------------------------------------------


def mechanic_appointments(access: StaffAccess, day: date) -> QuerySet[Appointment]:
    """The day's appointments as mechanics see them: vehicle, work, shared remarks."""
    shared = (
        CheckInItem.objects.visible_to_mechanics()
        .exclude(state=CheckInItem.State.WITHDRAWN)
        .prefetch_related(_ready_attachments())
        .order_by("submitted_at", "pk")
    )
    return (
        Appointment.objects.for_day(access.dealership, day)
        .exclude(status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
        # The visit: cars in the workshop first, then those still to come; late ones marked.
        .annotate(
            visit_order=Case(
                When(status=Appointment.Status.ARRIVED, then=0),
                When(status=Appointment.Status.SCHEDULED, then=1),
                When(status=Appointment.Status.READY, then=2),
                default=3,
            ),
            late=ExpressionWrapper(late_q(), BooleanField()),
        )
        .select_related("vehicle", "dealership")
        .prefetch_related(
            Prefetch(
                "work_items",
                queryset=WorkItem.objects.filter(visible_to_mechanics=True),
                to_attr="mechanic_work_items",
            ),
            Prefetch("checkin__items", queryset=shared, to_attr="shared_remarks"),
            "checkin",
        )
        .order_by("visit_order", "starts_at", "pk")
    )


@login_required
@require_GET
def workshop_day(request: StaffRequest) -> HttpResponse:
    """The workshop's page for a day: large type, no prices, no contact details."""
    access = staff_access(request)
    today = access.today()
    day = _day_from(request.GET.get("day", ""), today)
    return page(
        request,
        access,
        "workshop/workshop_day.html",
        {
            "nav": "workshop",
            "day": day,
            "today": today,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "appointments": list(mechanic_appointments(access, day)),
        },
    )


def _job(access: StaffAccess, appointment: Appointment) -> Appointment:
    """The appointment as mechanics see it; a cancelled one is not in the workshop."""
    job = (
        mechanic_appointments(access, appointment.local_start.date())
        .filter(pk=appointment.pk)
        .first()
    )
    if job is None:
        raise Http404("Cancelled")
    return job


@login_required
@require_GET
def workshop_appointment(request: StaffRequest, pk: int) -> HttpResponse:
    """One appointment as the workshop sees it: work, shared remarks and media; no prices."""
    appointment, access = get_appointment(staff_access(request), pk, office_only=False)
    job = _job(access, appointment)
    return page(
        request,
        access,
        "workshop/workshop_appointment.html",
        {"nav": "workshop", "appointment": job, "day": appointment.local_start.date()},
    )


@login_required
@require_GET
def job_card(request: StaffRequest, pk: int) -> HttpResponse:
    """The job card PDF: what mechanics need on paper, no prices, no contact details."""
    # WeasyPrint takes half a second to import: only the processes that print pay for it.
    from workshop.pdf import job_card_filename, render_job_card

    appointment, access = get_appointment(staff_access(request), pk, office_only=False)
    card = _job(access, appointment)
    response = HttpResponse(render_job_card(card), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{job_card_filename(card)}"'
    response["Cache-Control"] = "private, no-store"
    return response
