"""The "To call" page, the call dialog, adding a follow-up by hand, the nav's count.

Thin: access through `workshop.access` (receptionists and managers; mechanics get 404),
rules in `followups.attempts`. The call dialog is an htmx partial of the To-call page,
and a page of its own without JavaScript; a logged call answers 204 with the
`callsChanged` event the list reloads on.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from config.htmx import page_or_partial
from followups import attempts as rules
from followups.attempts import AttemptRefused, close_follow_up, log_attempt
from followups.forms import AddFollowUpForm, AttemptForm, DetailsForm
from followups.models import (
    FollowUp,
    FollowUpSettings,
    NoteTemplate,
    Priority,
    Reason,
    Tag,
)
from followups.opening import open_follow_up
from notifications.texts import language_for
from workshop.access import StaffAccess, StaffRequest, get_appointment, staff_access
from workshop.models import Role
from workshop.views import page

CHANGED_EVENT = "callsChanged"
PAGE = "followups/calls.html"
# Rows the To-call page shows at most (the rest after these are handled): its cost stays
# fixed whatever the backlog.
PAGE_SIZE = 100


def _office(request: StaffRequest) -> StaffAccess:
    access = staff_access(request)
    access.require_office()
    return access


def _page(request, access: StaffAccess, template: str, context: dict) -> TemplateResponse:
    return page(request, access, template, {"nav": "calls", **context})


@dataclass
class Filters:
    reason: str = ""
    status: str = FollowUp.Status.OPEN
    priority: str = ""
    tag: str = ""
    assignee: str = ""
    escalated: bool = False

    @classmethod
    def of(cls, params) -> "Filters":
        status = params.get("status", FollowUp.Status.OPEN)
        return cls(
            reason=params.get("reason", "") if params.get("reason") in Reason.values else "",
            status=status if status in (*FollowUp.Status.values, "all") else FollowUp.Status.OPEN,
            priority=params.get("priority", "") if params.get("priority", "").isdigit() else "",
            tag=params.get("tag", "") if params.get("tag", "").isdigit() else "",
            assignee=params.get("assignee", "")
            if params.get("assignee", "") == "none" or params.get("assignee", "").isdigit()
            else "",
            escalated=params.get("escalated") == "1",
        )

    def query(self) -> str:
        values = {
            "reason": self.reason,
            "status": "" if self.status == FollowUp.Status.OPEN else self.status,
            "priority": self.priority,
            "tag": self.tag,
            "assignee": self.assignee,
            "escalated": "1" if self.escalated else "",
        }
        return urlencode({k: v for k, v in values.items() if v})


def to_call(dealership, filters: Filters, settings: FollowUpSettings, now: datetime):
    """The rows: due now first, then by priority (urgent first), then by due time."""
    rows = FollowUp.objects.for_dealership(dealership)
    if filters.status != "all":
        rows = rows.filter(status=filters.status)
    if filters.reason:
        rows = rows.filter(reason=filters.reason)
    if filters.priority:
        rows = rows.filter(priority=int(filters.priority))
    if filters.tag:
        rows = rows.filter(tags__id=int(filters.tag))
    if filters.assignee == "none":
        rows = rows.filter(assigned_to__isnull=True)
    elif filters.assignee:
        rows = rows.filter(assigned_to_id=int(filters.assignee))
    if filters.escalated:
        rows = rows.escalated(settings.escalate_after_hours, now)
    return (
        rows.annotate(
            due_now=Case(
                When(due_at__lte=now, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .select_related("appointment__customer", "appointment__vehicle", "assigned_to")
        .prefetch_related("tags")
        .order_by("due_now", "-priority", "due_at", "pk")
    )


@login_required
@require_GET
def calls(request: StaffRequest) -> HttpResponse:
    access = _office(request)
    dealership = access.dealership
    now = timezone.now()
    settings = FollowUpSettings.for_dealership(dealership)
    filters = Filters.of(request.GET)
    rows = list(to_call(dealership, filters, settings, now)[: PAGE_SIZE + 1])
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    threshold = settings.escalate_after_hours
    is_manager = access.membership.role == Role.MANAGER
    for row in rows:
        row.due = row.is_due(now)  # type: ignore[attr-defined]
        row.escalated = row.is_escalated(threshold, now)  # type: ignore[attr-defined]
    context = {
        "rows": rows,
        "more": more,
        "filters": filters,
        "here": filters.query(),
        "is_manager": is_manager,
        # Managers see how many are urgent or long overdue (one count, theirs only).
        "escalated_count": FollowUp.objects.for_dealership(dealership)
        .escalated(threshold, now)
        .count()
        if is_manager
        else None,
        "reasons": Reason.choices,
        "priorities": Priority.choices,
        "statuses": [*FollowUp.Status.choices, ("all", _("All"))],
        "tags": list(Tag.objects.filter(dealership=dealership)),
        "assignees": list(_office_users(dealership.pk).order_by("first_name", "username")),
        "rules": rules.rules(settings),
        "calls_due": sum(1 for row in rows if row.due)  # type: ignore[attr-defined]
        if filters.status == "open"
        else None,
    }
    template = page_or_partial(request, PAGE, "#rows", target="calls")
    return _page(request, access, template, context)


def _follow_up(access: StaffAccess, pk: int) -> FollowUp:
    return get_object_or_404(
        FollowUp.objects.select_related(
            "appointment__customer", "appointment__vehicle", "appointment__dealership", "dealership"
        ),
        pk=pk,
        dealership_id__in=[m.dealership_id for m in access.memberships if m.role != Role.MECHANIC],
    )


@login_required
@require_http_methods(["GET", "POST"])
def call(request: StaffRequest, pk: int) -> HttpResponse:
    """The call dialog: phone, history, note templates, and the attempt's form."""
    access = _office(request)
    follow_up = _follow_up(access, pk)
    access = access.working_in(follow_up.dealership_id)
    dealership = follow_up.dealership
    form = AttemptForm(tz=dealership.tz)
    if request.method == "POST":
        form = AttemptForm(request.POST, tz=dealership.tz)
        if form.is_valid():
            data = form.cleaned_data
            try:
                log_attempt(
                    follow_up, data["outcome"], data["note"], request.user, data["call_back_at"]
                )
            except AttemptRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, _("Call logged."))
                if request.htmx:
                    return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT)
                return redirect("followups:calls")
    appointment = follow_up.appointment
    partial = "call_form" if request.method == "POST" else "call_dialog"
    template = page_or_partial(request, "followups/call_page.html", f"{PAGE}#{partial}")
    return _page(
        request,
        access,
        template,
        {
            "follow_up": follow_up,
            "appointment": appointment,
            "customer": appointment.customer,
            "attempts": list(follow_up.attempts.select_related("by")),
            "templates": list(
                NoteTemplate.objects.filter(
                    dealership=dealership, language=language_for(appointment)
                )
            ),
            "form": form,
            "details": DetailsForm(
                instance=follow_up,
                users=_office_users(follow_up.dealership_id),
                tags=Tag.objects.filter(dealership_id=follow_up.dealership_id),
            ),
            "back_url": reverse("followups:calls"),
            "title": _("Call %(name)s") % {"name": appointment.customer.full_name},
        },
    )


@login_required
@require_POST
def close(request: StaffRequest, pk: int) -> HttpResponse:
    """No longer needed (the appointment was moved or cancelled, say): closed as cancelled."""
    access = _office(request)
    follow_up = _follow_up(access, pk)
    if close_follow_up(follow_up, request.user, now=timezone.now()):
        messages.success(request, _("Follow-up closed: no call needed."))
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT)
    return redirect("followups:calls")


def _office_users(dealership_id: int):
    """Who may be assigned a follow-up: the dealership's receptionists and managers."""
    return get_user_model().objects.filter(
        memberships__dealership_id=dealership_id,
        memberships__role__in=[Role.RECEPTIONIST, Role.MANAGER],
    )


@login_required
@require_POST
def details(request: StaffRequest, pk: int) -> HttpResponse:
    """Priority, assignee and tags, from the call dialog."""
    access = _office(request)
    follow_up = _follow_up(access, pk)
    form = DetailsForm(
        request.POST,
        instance=follow_up,
        users=_office_users(follow_up.dealership_id),
        tags=Tag.objects.filter(dealership_id=follow_up.dealership_id),
    )
    if form.is_valid():
        form.save()
        messages.success(request, _("Follow-up changed."))
    else:
        messages.error(request, _("Nothing changed: check the priority, assignee and tags."))
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT)
    return redirect("followups:call", pk=follow_up.pk)


@login_required
@require_http_methods(["GET", "POST"])
def add(request: StaffRequest, pk: int) -> HttpResponse:
    """Add a follow-up by hand, from the appointment page."""
    appointment, access = get_appointment(staff_access(request), pk)
    # "Needs a call" on the conversation comes with its reason chosen.
    reason = request.GET.get("reason", Reason.MANUAL)
    form = AddFollowUpForm(
        request.POST or None,
        users=_office_users(appointment.dealership_id),
        initial={"reason": reason},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        open_follow_up(
            appointment,
            data["reason"],
            about=data["about"],
            priority=data["priority"],
            by=request.user,
            assigned_to=data["assigned_to"],
        )
        messages.success(request, _("Added to the To-call list."))
        return redirect("workshop:appointment", pk=appointment.pk)
    return _page(
        request,
        access,
        "followups/add.html",
        {
            "appointment": appointment,
            "form": form,
            "back_url": reverse("workshop:appointment", args=[pk]),
        },
    )


@login_required
@require_GET
def count(request: StaffRequest) -> HttpResponse:
    """The nav's count of follow-ups due now (loaded by the nav after the page: no page
    pays for it)."""
    access = staff_access(request)
    due = 0
    if not access.is_mechanic:
        due = FollowUp.objects.for_dealership(access.dealership).due(timezone.now()).count()
    return TemplateResponse(request, "followups/_count.html", {"calls_due": due})


__all__ = ["add", "call", "calls", "count"]
