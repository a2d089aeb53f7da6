"""What every response behind a customer link goes through.

`portal_view` rate limits by client address, finds the check-in for the token (a
malformed, unknown or wrong token all get the same "link not valid" page), shows where
the visit is (`portal.visit_pages`: arrived, ready, the rating, rebooking, or "closed")
once the appointment started, speaks the customer's language, and marks every
response private: not indexed, not stored, no referrer. The welcome page is served
again while the rows it shows are unchanged (`portal.kept_pages`).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseForbidden
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit

from config.htmx import HtmxHttpRequest
from portal import kept_pages, visit_pages, visits
from portal.languages import page_language
from portal.tokens import find_checkin
from workshop.checkin import record_opened
from workshop.models import Appointment

PortalView = Callable[..., HttpResponseBase]


class PortalRequest(HtmxHttpRequest):
    """A request behind a customer link, as `portal_view` hands it to the view (with the
    check-in as the view's first argument): in the customer's language."""

    LANGUAGE_CODE: str


def portal_rate(group: str, request: HttpRequest) -> str:
    return f"{settings.PORTAL_REQUESTS_PER_MINUTE}/m"


def make_private(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Fetch Metadata: where the browser says a request came from ("none": typed or bookmarked).
_OWN_SITE = {"same-origin", "none"}


def from_own_site(request: HttpRequest) -> bool:
    return request.headers.get("Sec-Fetch-Site", "same-origin") in _OWN_SITE


def portal_view(
    view: PortalView, *, until_closed: bool = False, always_open: bool = False, kept: bool = False
) -> Callable[..., HttpResponseBase]:
    """Wraps a view taking (request, checkin, ...) in place of (request, token, ...).

    `kept`: the page is served again while the rows it shows are unchanged
    (`portal.kept_pages`; the welcome page).

    Exempt from Django's CSRF check, on purpose: the secret in the URL is the only
    credential here (no cookie carries any authority), so a forged post would need the
    token, with which it could post directly. And the check would refuse honest
    customers: `Referrer-Policy: no-referrer` makes browsers send `Origin: null` with a
    form post (and no Referer), and a phone that blocks cookies has no CSRF cookie.
    On top, a post the browser itself marks as coming from another site
    (`Sec-Fetch-Site`) is refused.
    """

    @csrf_exempt
    @wraps(view)
    @ratelimit(group="portal", key="ip", rate=portal_rate, block=True)
    def wrapped(request: PortalRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in SAFE_METHODS and not from_own_site(request):
            return make_private(HttpResponseForbidden())
        kept_page = kept_pages.look_up(request, token) if kept else None
        if kept_page and kept_page.content is not None:
            return make_private(kept_page.response(request))
        checkin = find_checkin(
            token, with_unsent=request.method in SAFE_METHODS, with_versions=kept_page is not None
        )
        if checkin is None:
            return make_private(TemplateResponse(request, "portal/invalid.html", status=404))
        appointment = checkin.appointment
        language = page_language(
            request, checkin, appointment.customer.language, appointment.dealership.language
        )
        request.LANGUAGE_CODE = language
        # The customer's language, and every time in the dealership's local time; the
        # page is rendered inside, so neither outlives this request.
        with translation.override(language), timezone.override(checkin.appointment.dealership.tz):
            # The check-in closes when the appointment starts; the conversation stays
            # until the appointment is done or cancelled (`portal_view_until_closed`).
            closed = (
                checkin.appointment.status != Appointment.Status.SCHEDULED
                if until_closed
                else not always_open and checkin.is_closed
            )
            if closed:
                # Where the visit is: arrived, ready, the rating, how to rebook; or closed.
                response: HttpResponseBase = visit_pages.state_page(request, checkin)
            else:
                # Opened: only by a request a person's browser makes, never a scanner's GET.
                if (
                    checkin.opened_at is None
                    and not (always_open and checkin.is_closed)
                    and visits.is_a_visit(request, checkin)
                ):
                    record_opened(checkin)
                try:
                    response = view(request, checkin, *args, **kwargs)
                except Http404:
                    # A remark or file that is gone: said in the customer's language, with
                    # the dealership's name and phone number, not on a bare error page.
                    response = TemplateResponse(
                        request,
                        "portal/not_found.html",
                        {"dealership": checkin.appointment.dealership},
                        status=404,
                    )
                visits.remember_page(request, response, checkin)
            if isinstance(response, TemplateResponse):
                response.render()
            if kept_page and not closed:
                kept_page.keep(response, checkin)
        return make_private(response)

    return wrapped


def portal_view_until_closed(view: PortalView) -> Callable[..., HttpResponseBase]:
    """`portal_view` for a page that stays open after the appointment started, until
    it is done, cancelled or a no-show: the conversation."""
    return portal_view(view, until_closed=True)


def portal_view_kept(view: PortalView) -> Callable[..., HttpResponseBase]:
    """`portal_view` for the welcome page, kept per version of its rows (`portal.kept_pages`)."""
    return portal_view(view, kept=True)


def portal_view_always(view: PortalView) -> Callable[..., HttpResponseBase]:
    """`portal_view` for a view that decides itself what the visit's state allows (the
    rating, the language switch): it is called whatever the state."""
    return portal_view(view, always_open=True)
