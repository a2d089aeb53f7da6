"""Staff pages. Thin: they read, check access and call the flow functions."""

import contextlib
from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from workshop.access import choose_dealership, current_membership, memberships
from workshop.models import Appointment


def _day_from(request: HttpRequest, today: date) -> date:
    try:
        return date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return today


@login_required
@require_GET
def appointment_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    dealership = membership.dealership
    today = timezone.localdate(timezone=dealership.tz)
    day = _day_from(request, today)
    appointments = (
        Appointment.objects.filter(dealership=dealership)
        .for_day(day, dealership.tz)
        .select_related("customer", "vehicle", "checkin")
        .order_by("starts_at")
    )
    return TemplateResponse(
        request,
        "workshop/appointment_list.html",
        {
            "membership": membership,
            "memberships": memberships(request.user),
            "dealership": dealership,
            "day": day,
            "today": today,
            "appointments": appointments,
        },
    )


@login_required
@require_POST
def switch_dealership(request: HttpRequest) -> HttpResponse:
    with contextlib.suppress(ValueError):
        choose_dealership(request, int(request.POST.get("dealership", "")))
    return redirect("workshop:appointments")
