"""A person's visit, told from a link scanner's fetch.

Mail and SMS apps fetch a link before the customer taps it: a HEAD, or one GET that
nothing follows. Were that "opened", the check-in would look opened and the reminder
would never go out. So a GET changes nothing, and the check-in counts as opened on a
request only a person's browser makes after it loaded a page:

- any POST from the page: a form, or the tiny one `static/js/portal.js` sends with
  `navigator.sendBeacon` once the page has loaded and is visible (`portal:seen`);
- without JavaScript, a GET of another step that carries the cookie the first page set
  (the customer followed a link on the page).

`portal.decorators.portal_view` asks `is_a_visit` before each view and lets
`remember_page` set the cookie after it, both only while the check-in is unopened.
"""

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from workshop.models import OnlineCheckIn

COOKIE = "pitlane_page"
_SALT = "portal.visits"


def step_of(request: HttpRequest) -> str:
    name = request.resolver_match.url_name if request.resolver_match else ""
    return "welcome" if name == "link" else (name or "")


def _page_before(request: HttpRequest, checkin: OnlineCheckIn) -> str | None:
    """The step this browser was shown before on this link, if its cookie says so."""
    value = request.get_signed_cookie(COOKIE, default="", salt=_SALT) or ""
    checkin_id, _, step = value.partition(":")
    return step if checkin_id == str(checkin.pk) else None


def is_a_visit(request: HttpRequest, checkin: OnlineCheckIn) -> bool:
    """Only a person's browser makes this request (see the module's docstring).

    A POST reaching here came from our own page: `portal_view` refuses other sites'."""
    if request.method == "POST":
        return True
    if request.method != "GET":
        return False
    before = _page_before(request, checkin)
    return before is not None and before != step_of(request)


def remember_page(request: HttpRequest, response: HttpResponseBase, checkin: OnlineCheckIn) -> None:
    """While the check-in is unopened, a page tells the browser which step it showed."""
    if checkin.opened_at is not None or request.method not in ("GET", "HEAD"):
        return
    if _page_before(request, checkin) is not None:
        return
    response.set_signed_cookie(
        COOKIE,
        f"{checkin.pk}:{step_of(request)}",
        salt=_SALT,
        path="/c/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
