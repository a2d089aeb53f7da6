"""The customer's check-in pages behind /c/<token>/. Thin: they read and call the flow.

One page per step, each a plain form that posts and redirects, so the whole check-in
works without JavaScript; htmx's hx-boost only makes it smoother. Every answer is
saved as a draft at once; "Send" opens the drafts for the receptionists.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from notifications import invitations
from portal import visit_pages
from portal.decorators import (
    PortalRequest,
    make_private,
    portal_view,
    portal_view_always,
    portal_view_kept,
)
from portal.forms import ContactForm, RemarkForm, ServicesForm
from portal.ics import appointment_ics
from portal.languages import LANGUAGE_CODES, language_session_key
from portal.theme import theme_css
from workshop import checkin as flow
from workshop.answers import Answers, read_answers
from workshop.models import CheckInItem, Dealership, OnlineCheckIn


@dataclass(frozen=True)
class Step:
    name: str
    title: str | Promise


STEPS = [
    Step("welcome", gettext_lazy("Welcome")),
    Step("contact", gettext_lazy("How we reach you")),
    Step("details", gettext_lazy("Your appointment")),
    Step("work", gettext_lazy("Planned work")),
    Step("services", gettext_lazy("Extra services")),
    Step("remarks", gettext_lazy("Anything we should know?")),
    Step("review", gettext_lazy("Check and send")),
]
STEP_NAMES = [step.name for step in STEPS]


def step_url(checkin: OnlineCheckIn, name: str) -> str:
    return reverse(f"portal:{name}", args=[checkin.token])


def next_step_url(checkin: OnlineCheckIn, name: str) -> str:
    return step_url(checkin, STEP_NAMES[min(STEP_NAMES.index(name) + 1, len(STEPS) - 1)])


def page(
    request: HttpRequest,
    checkin: OnlineCheckIn,
    template: str,
    context: dict | None = None,
    *,
    step: str = "",
    status: int = 200,
    answers: Answers | None = None,
) -> TemplateResponse:
    """A step page with what every step shows: branding, progress, back and next.

    Pass the `answers` the page read, if it read them: they also tell what is unsent."""
    step = step or template
    index = STEP_NAMES.index(step) if step in STEP_NAMES else len(STEPS) - 1
    return TemplateResponse(
        request,
        f"portal/{template}" if ".html" in template else f"portal/{template}.html",
        visit_pages.context(
            checkin,
            step=STEPS[index],
            step_number=index + 1,
            step_count=len(STEPS),
            steps=[(i < index, i == index) for i in range(len(STEPS))],
            back_url=step_url(checkin, STEP_NAMES[index - 1]) if index else "",
            next_url=step_url(checkin, STEP_NAMES[index + 1]) if index < len(STEPS) - 1 else "",
            current_step=step,
            has_unsent=answers.has_unsent if answers else flow.has_unsent_answers(checkin),
            **(context or {}),
        ),
        status=status,
    )


def summary(answers: Answers, *, sent: bool = False) -> dict:
    """What review shows (current answers, changes marked) and done shows (what was
    sent): answers per offer, remarks, totals, from the one read model of the answers."""
    checkin = answers.checkin
    version = answers.sent if sent else answers.current
    work_items = list(checkin.appointment.work_items.all())
    work_total = sum((item.price for item in work_items), Decimal("0.00"))
    return {
        "work_items": work_items,
        "work_total": work_total,
        "accepted": version.accepted,
        "contact": version.contact,
        "dropped": version.dropped,
        "services_total": version.services_total,
        "grand_total": work_total + version.services_total,
        "remarks": version.remarks,
        # Before the first send everything is unsent: the page says so once, not per line.
        "show_status": checkin.is_answered and not sent,
    }


# --- steps -----------------------------------------------------------------------


@portal_view_kept
@require_safe
def welcome(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    return page(request, checkin, "welcome")


@portal_view
@require_http_methods(["GET", "POST"])
def contact(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    appointment = checkin.appointment
    form = ContactForm(
        request.POST or None, region=appointment.dealership.country, customer=appointment.customer
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():  # the new details and the notices to the former, or neither
            changes = flow.update_contact(appointment, appointment.customer, form.changes())
            invitations.queue_contact_notices(appointment, changes)
        if changes:
            messages.success(request, _("Your contact details are saved."))
        return redirect(next_step_url(checkin, "contact"))
    return page(request, checkin, "contact", {"form": form}, status=400 if form.errors else 200)


@portal_view
@require_safe
def details(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    return page(request, checkin, "details")


@portal_view
@require_safe
def work(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    work_items = list(checkin.appointment.work_items.all())
    total = sum((item.price for item in work_items), Decimal("0.00"))
    return page(request, checkin, "work", {"work_items": work_items, "total": total})


@portal_view
@require_http_methods(["GET", "POST"])
def services(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    answers = read_answers(checkin, translation.get_language())
    form = ServicesForm(request.POST or None, lines=answers.offers)
    autosave = request.POST.get("autosave", "") if request.htmx else ""
    if request.method == "POST" and form.is_valid():
        flow.set_offer_choices(checkin, form.changed_choices())
        if autosave:
            return saved_offer(request, checkin, autosave)
        return redirect(next_step_url(checkin, "services"))
    rows = [(line, form[ServicesForm.field_name(line.offer)]) for line in answers.offers]
    return page(request, checkin, "services", {"form": form, "rows": rows}, answers=answers)


def saved_offer(request: PortalRequest, checkin: OnlineCheckIn, offer_id: str) -> HttpResponse:
    """One offer's card after htmx saved a changed answer, with its new sent/unsent state."""
    answers = read_answers(checkin, translation.get_language())
    line = next((line for line in answers.offers if str(line.offer.pk) == offer_id), None)
    if line is None:
        return HttpResponse(status=204)
    form = ServicesForm(lines=[line], auto_id="id_%s")
    return page(
        request,
        checkin,
        "services.html#offer",
        {"row": line, "field": form[ServicesForm.field_name(line.offer)]},
        step="services",
        answers=answers,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def remarks(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    form = RemarkForm(request.POST or None, prefix="new")
    if request.method == "POST" and form.is_valid():
        try:
            remark = flow.add_remark(
                checkin,
                form.cleaned_data["subject"],
                form.cleaned_data["description"],
                key=form.cleaned_data["key"],
            )
        except flow.TooManyRemarks as refused:
            form.refuse_past_limit(refused.limit)
        else:
            messages.success(
                request,
                _("Remark added. You can add photos or videos to it below, or add another."),
            )
            return redirect(f"{step_url(checkin, 'remarks')}#remark-{remark.pk}")
    answers = read_answers(checkin, files=True)
    return page(
        request,
        checkin,
        "remarks",
        {"form": form, "remarks": answers.remarks},
        status=400 if form.errors else 200,
        answers=answers,
    )


def draft_remark(checkin: OnlineCheckIn, remark_id: int) -> CheckInItem:
    return get_object_or_404(
        checkin.items,
        pk=remark_id,
        kind=CheckInItem.Kind.REMARK,
        state=CheckInItem.State.DRAFT,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def remark_edit(request: PortalRequest, checkin: OnlineCheckIn, remark_id: int) -> HttpResponse:
    remark = draft_remark(checkin, remark_id)
    form = RemarkForm(
        request.POST or None,
        initial={"subject": remark.subject, "description": remark.description},
    )
    if request.method == "POST" and form.is_valid():
        flow.change_remark(remark, form.cleaned_data["subject"], form.cleaned_data["description"])
        messages.success(request, _("Remark saved."))
        return redirect(f"{step_url(checkin, 'remarks')}#remark-{remark.pk}")
    return page(
        request,
        checkin,
        "remark_edit",
        {"form": form, "remark": remark},
        step="remarks",
        status=400 if form.errors else 200,
    )


@portal_view
@require_POST
def remark_delete(request: PortalRequest, checkin: OnlineCheckIn, remark_id: int) -> HttpResponse:
    remark = draft_remark(checkin, remark_id)
    if flow.delete_remark(remark):
        messages.success(request, _("Remark deleted."))
    return redirect(step_url(checkin, "remarks"))


@portal_view
@require_http_methods(["GET", "POST"])
def review(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    if request.method == "POST":
        sent_before = checkin.last_answered_at
        with transaction.atomic():  # the answers and their confirmation, or neither
            flow.submit_checkin(checkin)
            if checkin.last_answered_at != sent_before:  # a double tap sends nothing new
                invitations.queue_confirmation(checkin)
        return redirect(step_url(checkin, "done"))
    answers = read_answers(checkin, translation.get_language(), files=True)
    return page(request, checkin, "review", summary(answers), answers=answers)


@portal_view
@require_safe
def done(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    if not checkin.is_answered:
        return redirect(step_url(checkin, "review"))
    answers = read_answers(checkin, translation.get_language(), files=True)
    return page(
        request, checkin, "done", summary(answers, sent=True), step="review", answers=answers
    )


# --- around the steps ----------------------------------------------------------------


@portal_view_always
@require_POST
def language(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """Switches the page language for this link; kept in the session, no JavaScript needed."""
    chosen = request.POST.get("language", "")
    if chosen in LANGUAGE_CODES:
        request.session[language_session_key(checkin)] = chosen
    back = request.POST.get("next", "")
    base = reverse("portal:welcome", args=[checkin.token])
    if not (
        back.startswith(base)
        and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    ):
        back = base
    return redirect(back)


@portal_view
@require_POST
def seen(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """The page's script says a person sees it (`portal.visits`): `portal_view` records
    the opening, as it does for any post from the page."""
    return HttpResponse(status=204)


@portal_view
@require_safe
def calendar(request: PortalRequest, checkin: OnlineCheckIn) -> HttpResponse:
    response = HttpResponse(
        appointment_ics(checkin.appointment, request.get_host().split(":")[0]),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


@require_safe
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def theme(request: HttpRequest, colour: str) -> HttpResponse:
    """The brand colour as CSS variables: a stylesheet, so CSP needs no inline styles.

    Its URL names the colour, so it is cached for good and changes with the colour.
    """
    return HttpResponse(theme_css(colour), content_type="text/css; charset=utf-8")


@require_safe
def logo(request: HttpRequest, slug: str, name: str) -> HttpResponseBase:
    """A dealership's logo, public like its web site's: e-mails and the portal show it.

    Its URL stays the same for as long as the logo does (a new upload gets a new name),
    so mail programs that fetch images days later still find it; on S3 each request is
    sent on to a freshly signed URL, as media there are private.
    """
    dealership = get_object_or_404(Dealership.objects.exclude(logo=""), slug=slug)
    if dealership.logo_file_name != name:
        raise Http404("No such logo")
    url = dealership.logo.url
    if url.startswith(("http://", "https://")):
        response: HttpResponseBase = redirect(url)
        patch_cache_control(response, public=True, max_age=settings.AWS_QUERYSTRING_EXPIRE // 2)
        return response
    response = FileResponse(dealership.logo.open("rb"))
    patch_cache_control(response, public=True, max_age=7 * 24 * 3600)
    return response


def rate_limited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """RATELIMIT_VIEW: too many requests from one address."""
    response = TemplateResponse(request, "portal/rate_limited.html", status=429)
    response["Retry-After"] = "60"
    make_private(response)
    return response
