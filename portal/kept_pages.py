"""The welcome page, kept in each web process per version of the rows it shows.

Every link opens on the welcome page, and it is the page opened again and again: from
the message, from the reminder, by the phone's link preview. What it shows comes from
five rows (the check-in, its appointment, the dealership, the customer, the car) and
whether an answer is unsent; nothing on it changes with the clock while the check-in
is open (when it closes, the link shows the visit instead and nothing is kept).

On PostgreSQL every write of a row gives it a new `xmin` (the transaction that wrote
this version of the row), whatever wrote it: a form, a conditional UPDATE, the DMS
import, a data migration. So those five `xmin`s and "unsent?" name exactly what the
page shows. One plain query reads them with the link's verifier (no ORM compiling, no
model instances): a page rendered for the same versions, address and language is
served again; any other is rendered as usual and kept under the versions read in the
same query as its data, so a page is kept under the versions of exactly what it shows.

Not kept: anything but a plain GET, a page with a one-time message on it, the request
that records the first opening (`portal.visits`), and everything on SQLite (which has
no row versions; the embedded default serves one person). Kept pages live in the
process's memory, so a deploy starts afresh with its own templates and translations.
"""

import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from portal import visits
from portal.languages import page_language
from portal.tokens import ROW_VERSIONS, SELECTOR_LENGTH, is_well_formed
from workshop.models import Appointment, CheckInItem, OnlineCheckIn

# The link's verifier, what decides whether the page is open and in which language,
# and the versions of what the page shows: the rows `find_checkin` reads, and whether an
# answer is unsent (as `CheckInItem.objects.unsent()` says).
VERSION_SQL = f"""
SELECT workshop_onlinecheckin.id, workshop_onlinecheckin.link_verifier,
       workshop_onlinecheckin.opened_at, workshop_appointment.status,
       workshop_appointment.starts_at, workshop_customer.language, workshop_dealership.language,
       {ROW_VERSIONS},
       EXISTS (SELECT 1 FROM workshop_checkinitem i
               WHERE i.checkin_id = workshop_onlinecheckin.id AND i.state = %s)
FROM workshop_onlinecheckin
JOIN workshop_appointment ON workshop_appointment.id = workshop_onlinecheckin.appointment_id
JOIN workshop_dealership ON workshop_dealership.id = workshop_appointment.dealership_id
JOIN workshop_customer ON workshop_customer.id = workshop_appointment.customer_id
JOIN workshop_vehicle ON workshop_vehicle.id = workshop_appointment.vehicle_id
WHERE workshop_onlinecheckin.link_selector = %s
"""  # noqa: S608 - constant text; the values are parameters
UNSENT = CheckInItem.State.DRAFT


def _version(row_versions: str, has_unsent: bool) -> str:
    return f"{row_versions}.{int(has_unsent)}"


class _Key(NamedTuple):
    checkin_id: int
    path: str
    language: str
    version: str


class _Pages:
    """The last PORTAL_KEPT_PAGES pages served, the least recent out first; one lock, as
    a web process serves from several threads."""

    def __init__(self) -> None:
        self._pages: OrderedDict[_Key, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key) -> bytes | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: _Key, page: bytes) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > settings.PORTAL_KEPT_PAGES:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


pages = _Pages()


@dataclass
class KeptPage:
    """This request's place among the kept pages: `content` when kept, else keep it."""

    key: _Key
    checkin: OnlineCheckIn  # only its id and opening loaded: what `portal.visits` reads
    content: bytes | None

    def response(self, request: HttpRequest) -> HttpResponse:
        assert self.content is not None
        response = HttpResponse(self.content)
        visits.remember_page(request, response, self.checkin)
        return response

    def keep(self, response: HttpResponseBase, checkin: OnlineCheckIn) -> None:
        """Keeps the page rendered from `checkin`, read `with_versions` and `with_unsent`:
        under the versions of what it shows, read with it in one query."""
        if response.status_code == 200 and isinstance(response, HttpResponse):
            version = _version(checkin.row_versions, checkin.has_unsent)  # type: ignore[attr-defined]
            pages.put(self.key._replace(version=version), response.content)


def look_up(request: HttpRequest, token: str) -> KeptPage | None:
    """Where this request's page is kept; None for one that is not kept (see above).

    A malformed, unknown or wrong token, or a closed check-in, gets None: the usual path
    answers it.
    """
    if not (settings.PORTAL_KEPT_PAGES and connection.vendor == "postgresql"):
        return None
    if request.method != "GET" or not is_well_formed(token):
        return None
    if len(get_messages(request)):  # a one-time message is on this page only
        return None
    selector, verifier = token[:SELECTOR_LENGTH], token[SELECTOR_LENGTH:]
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL, [UNSENT, selector])
        row = cursor.fetchone()
    if row is None:
        return None
    checkin_id, link_verifier, opened_at, status, starts_at, customer_language = row[:6]
    dealership_language, version, has_unsent = row[6:]
    if not hmac.compare_digest(link_verifier.encode(), verifier.encode()):
        return None
    if not Appointment(status=status, starts_at=starts_at).is_upcoming():
        return None  # closed: the link shows the visit
    checkin = OnlineCheckIn.from_db(connection.alias, ["id", "opened_at"], [checkin_id, opened_at])
    if opened_at is None and visits.is_a_visit(request, checkin):
        return None  # the usual path records the opening
    language = page_language(request, checkin, customer_language, dealership_language)
    key = _Key(checkin_id, request.path, language, _version(version, has_unsent))
    return KeptPage(key, checkin, pages.get(key))
