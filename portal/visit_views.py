"""The visit from the customer's side: cancel, ask for another date, rate the visit.

Plain forms that post and redirect (they work without JavaScript); thin, they call
`workshop.visit`. Cancelling and asking for another date are check-in steps, open until
the appointment starts; the rating is open while the link shows a collected visit
(`portal.visit_pages`). A post sent twice does one thing: the second finds the
appointment cancelled, the same request already open, or the visit already rated.
"""

from datetime import date

from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal import visit_pages
from portal.decorators import PortalRequest, portal_view, portal_view_always
from portal.forms import DAY_PARTS, CancelForm, OtherDateForm, RatingForm
from portal.views import step_url
from workshop import visit
from workshop.models import Appointment, CheckInItem, OnlineCheckIn

PART_LABELS = dict(DAY_PARTS)


@portal_view
@require_http_methods(["GET", "POST"])
def cancel(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """While it is free, a confirmation with an optional reason; after, "please call"."""
    appointment = checkin.appointment
    may_cancel = visit.may_cancel_free(appointment)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and may_cancel and form.is_valid():
        visit.cancel_by_customer(appointment, reason=form.cleaned_data["reason"])
        # The link now shows the cancelled appointment and how to book again.
        return redirect(step_url(checkin, "welcome"))
    status = 400 if form.errors else 200 if may_cancel or request.method == "GET" else 409
    return TemplateResponse(
        request,
        "portal/cancel.html",
        visit_pages.context(checkin, form=form, may_cancel=may_cancel),
        status=status,
    )


def open_date_request(checkin: OnlineCheckIn) -> CheckInItem | None:
    return (
        CheckInItem.objects.open()
        .filter(checkin_id=checkin.pk, kind=CheckInItem.Kind.DATE_REQUEST)
        .order_by("-pk")
        .first()
    )


def asked_days(item: CheckInItem) -> list[tuple[date, str]]:
    """The days of a date request, as the page shows them."""
    return [
        (date.fromisoformat(day["day"]), str(PART_LABELS.get(day["part"], "")))
        for day in item.preferred_days
    ]


def as_preferred_days(preferred: list[tuple[date, str]]) -> list[dict[str, str]]:
    return [{"day": day.isoformat(), "part": part} for day, part in preferred]


@portal_view
@require_http_methods(["GET", "POST"])
def other_date(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """ "Another date, please": up to three days, each morning or afternoon, and a note;
    then "we will get back to you" with the days asked, until staff move the appointment."""
    appointment = checkin.appointment
    asked = open_date_request(checkin)
    today = timezone.localdate()  # the dealership's (`portal_view`)
    form = OtherDateForm(request.POST or None, today=today)
    if request.method == "POST" and form.is_valid():
        preferred, note = form.cleaned_data["preferred"], form.cleaned_data["note"]
        same = (
            asked is not None
            and asked.preferred_days == as_preferred_days(preferred)
            and asked.description == note
        )
        if not same:  # a double tap asks once
            visit.request_other_date(appointment, preferred, note=note)
        return redirect(step_url(checkin, "other_date"))
    if asked is not None and request.method == "GET" and "change" not in request.GET:
        return TemplateResponse(
            request,
            "portal/other_date_asked.html",
            visit_pages.context(checkin, asked=asked, days=asked_days(asked)),
        )
    if asked is not None and not form.is_bound:  # changing the days asked
        initial = {"note": asked.description}
        for n, chosen in enumerate(asked.preferred_days, start=1):
            initial.update({f"day_{n}": chosen["day"], f"part_{n}": chosen["part"]})
        form = OtherDateForm(today=today, initial=initial)
    return TemplateResponse(
        request,
        "portal/other_date.html",
        visit_pages.context(checkin, form=form, changing=asked is not None),
        status=400 if form.errors else 200,
    )


@portal_view_always
@require_http_methods(["GET", "POST"])
def rate(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """1 to 5 stars and a comment, once, for a collected visit; the thanks after."""
    appointment = checkin.appointment
    if not checkin.is_closed:  # nothing to rate yet: the check-in
        return redirect(step_url(checkin, "welcome"))
    if appointment.status != Appointment.Status.DONE or visit_pages.link_has_expired(appointment):
        return visit_pages.state_page(request, checkin)
    if appointment.dealership.review_url or request.method == "GET":
        return visit_pages.rating_page(request, checkin)
    form = RatingForm(request.POST)
    if form.is_valid():
        visit.rate(
            appointment, stars=form.cleaned_data["stars"], comment=form.cleaned_data["comment"]
        )
        return redirect(step_url(checkin, "rate"))
    return visit_pages.rating_page(request, checkin, form)
