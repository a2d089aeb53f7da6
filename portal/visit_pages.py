"""What the link shows once the check-in has closed: where the visit is.

The check-in takes answers until the appointment starts (`upcoming_q`); after that the
same link follows the visit (`workshop.visit`): booked but not arrived yet, "closed"
(call us); arrived, "we have your car"; ready, "your car is ready" with the opening
hours; collected, the rating (or the dealership's own review page); cancelled or a
no-show, how to book again. LINK_OPEN_AFTER_VISIT after the visit ended, it is
"closed" for good.

`portal.decorators.portal_view` renders `state_page` for a closed check-in; the visit's
own views (`portal.visit_views`) render the pieces.
"""

from datetime import datetime, timedelta

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from portal.forms import RatingForm
from workshop.models import Appointment, OnlineCheckIn, Review

Status = Appointment.Status

# How long after the visit ended (collected, cancelled, no-show) the link still shows it.
LINK_OPEN_AFTER_VISIT = timedelta(days=30)


def visit_ended_at(appointment: Appointment) -> datetime | None:
    ended = {
        Status.DONE: appointment.collected_at,
        Status.CANCELLED: appointment.cancelled_at,
        Status.NO_SHOW: appointment.no_show_at,
    }
    return ended.get(Status(appointment.status))


def link_has_expired(appointment: Appointment, now: datetime | None = None) -> bool:
    """The visit ended more than LINK_OPEN_AFTER_VISIT ago (or when, nobody recorded)."""
    if appointment.status not in (Status.DONE, Status.CANCELLED, Status.NO_SHOW):
        return False
    ended = visit_ended_at(appointment)
    return ended is None or ended + LINK_OPEN_AFTER_VISIT < (now or timezone.now())


def context(checkin: OnlineCheckIn, **more: object) -> dict:
    """What every page behind the link shows (the check-in's steps add their own)."""
    appointment = checkin.appointment
    return {
        "checkin": checkin,
        "token": checkin.token,
        "appointment": appointment,
        "dealership": appointment.dealership,
        "customer": appointment.customer,
        "vehicle": appointment.vehicle,
        **more,
    }


def closed_page(request: HttpRequest, checkin: OnlineCheckIn) -> TemplateResponse:
    talking = checkin.appointment.status == Status.SCHEDULED
    return TemplateResponse(
        request,
        "portal/closed.html",
        {
            "dealership": checkin.appointment.dealership,
            # The check-in closed; the conversation goes on until the car arrives.
            "messages_url": reverse("portal:messages", args=[checkin.token]) if talking else "",
        },
        status=410,
    )


def rating_page(
    request: HttpRequest,
    checkin: OnlineCheckIn,
    form: RatingForm | None = None,
    *,
    review: Review | None = None,
) -> TemplateResponse:
    """A collected visit: the rating form, the thanks once rated, or the dealership's
    own review page when it has one."""
    appointment = checkin.appointment
    if review is None:
        review = Review.objects.filter(appointment=appointment).first()
    form = form or RatingForm()
    return TemplateResponse(
        request,
        "portal/rate.html",
        context(checkin, review=review, form=form),
        status=400 if form.errors else 200,
    )


def state_page(request: HttpRequest, checkin: OnlineCheckIn) -> TemplateResponse:
    """The page a closed check-in's link shows: see the module's docstring."""
    appointment = checkin.appointment
    status = appointment.status
    if status == Status.SCHEDULED or link_has_expired(appointment):
        return closed_page(request, checkin)
    if status in (Status.ARRIVED, Status.READY):
        return TemplateResponse(request, "portal/visit_state.html", context(checkin))
    if status == Status.DONE:
        return rating_page(request, checkin)
    return TemplateResponse(request, "portal/rebook.html", context(checkin))
