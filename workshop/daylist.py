"""The receptionist's appointment list: one query for what it shows, rows and fingerprint alike.

Pinned appointments (an open check-in item) stand on top whatever their day; the rest
of the day follows. A search looks across every day. The list refreshes itself by
sending back the fingerprint of what it shows; when the fingerprint is unchanged the
server answers 204 without rendering anything.

What it costs follows what it shows, not the years of history: the day comes from the
`(dealership, starts_at)` index, the pinned ones from the partial index of open items,
a search from the trigram indexes (see `Appointment.objects.matching`), and only those
few rows are joined, counted and sorted.

The poll is cheaper still: every flow that changes what a list shows calls
`list_changed(dealership_id)`, which gives the dealership's lists a new version in the
cache, and `Poll` answers 204 from the cache alone while the version is the one it last
saw the list's fingerprint at (see `Poll`).
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial, wraps
from html import escape
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Func,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from workshop.models import (
    DECLINE_WAITING,
    Appointment,
    Dealership,
    OnlineCheckIn,
    late_q,
    pinned_ids,
    waiting_for_arrival_q,
)

SEARCH_LIMIT = 100
Status = Appointment.Status


class Filter:
    ALL = "all"
    ATTENTION = "attention"
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    NO_REPLY = "no_reply"
    # The visit (workshop.visit)
    ARRIVED = "arrived"
    READY = "ready"
    LATE = "late"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    CHOICES = [
        (ALL, _("All")),
        (ATTENTION, _("Needs attention")),
        (ANSWERED, pgettext_lazy("appointment list filter", "Answered")),
        (NOT_ANSWERED, pgettext_lazy("appointment list filter", "Not answered")),
        (CONFIRMED, pgettext_lazy("appointment list filter", "Confirmed")),
        (DECLINED, pgettext_lazy("appointment list filter", "Declined")),
        (NO_REPLY, pgettext_lazy("appointment list filter", "No answer")),
        (ARRIVED, pgettext_lazy("appointment list filter", "Arrived")),
        (READY, pgettext_lazy("appointment list filter", "Ready")),
        (LATE, pgettext_lazy("appointment list filter", "Late")),
        (CANCELLED, pgettext_lazy("appointment list filter", "Cancelled")),
        (NO_SHOW, pgettext_lazy("appointment list filter", "No-show")),
    ]
    # Filters on the visit state alone.
    STATES = {ARRIVED: "arrived", READY: "ready", CANCELLED: "cancelled", NO_SHOW: "no_show"}
    VALUES = tuple(value for value, _label in CHOICES)


Invitation = OnlineCheckIn.InvitationStatus
TROUBLE = [Invitation.FAILED, Invitation.UNREACHABLE]

# What a row shows, in the order RowMaker reads them.
COLUMNS = (
    "pk",
    "starts_at",
    "status",
    "external_ref",
    "open_items",
    "customer__first_name",
    "customer__last_name",
    "vehicle__plate",
    "vehicle__make",
    "vehicle__model",
    "checkin__invitation_status",
    "invited",
    "opened",
    "answered",
    "handled",
    "unread",
    "decline_waiting",
    "confirmation",
    "promised_ready_at",
    # The visit's lateness now (`late_q`, `waiting_for_arrival_q`): in the fingerprint
    # too, so a list shows a car turning late at its next full poll.
    "is_waiting",
    "late_now",
)
# Chips without an icon: nothing happened yet, shown as muted text in their cell.
QUIET = frozenset({"pg-none", "st-not_due"})
UNREAD, DECLINE = COLUMNS.index("unread"), COLUMNS.index("decline_waiting")
STATUS = COLUMNS.index("status")

# The steps of the check-in as the list shows them: whether, not when.
STEPS = {
    step: ExpressionWrapper(Q(**{f"checkin__{step}_at__isnull": False}), BooleanField())
    for step in ("invited", "opened", "answered", "handled")
}


class RowText(Func):
    """Values as one text, "|" between them and NULL as nothing: PostgreSQL's CONCAT.
    One function of many arguments, where `Concat` nests a cast and a COALESCE per pair:
    the poll compiles it on every request."""

    function = "CONCAT"
    arg_joiner = ", '|', "
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        wrapped = self.copy()
        wrapped.set_source_expressions(
            [Coalesce(e, Value("")) for e in self.get_source_expressions()]
        )
        return wrapped.as_sql(
            compiler,
            connection,
            template="(%(expressions)s)",
            arg_joiner=" || '|' || ",
            **extra_context,
        )


# The same, as one text per row written by the database: the poll hashes these and
# reads nothing else (no dates to parse, no tuples to build).
FINGERPRINT_TEXT = RowText(*COLUMNS)


class Row(NamedTuple):
    """One appointment as the list shows it: its markup, and what the list sorts by."""

    starts_at: datetime
    open_items: int
    html: SafeString
    # An unread message or a decline nobody handled: pinned, with no open item.
    waiting: bool = False

    def __html__(self) -> SafeString:
        return self.html


# One line of HTML per appointment, written here rather than in the template: a day can
# hold hundreds, and the template language costs about 7 µs a variable, three times the
# rest of the page at 200 rows. Kept short for the same reason: the end tags of cells
# and rows are optional in HTML, attribute values need no quotes when they hold no space,
# the chips (<em>) and flags draw their icons from the style sheet (classes pg-*, st-*,
# vs-*, flag-*), and cells are styled by position (staff.css).
# Every value is escaped; the labels come from the catalogue (see RowMaker).
ROW = (
    "<tr{css}><td>{date}{time}<td>{flag}<a href={url}{answered}>{customer}</a>{said}"
    "<td><b>{plate}</b> {vehicle}<td>{visit}<td>{progress}<td>{invitation}<td>{reference}\n"
)


class RowMaker:
    """Turns the query's values into rows; the labels are translated once per list."""

    def __init__(self, dealership: Dealership, today: date | None = None) -> None:
        self.tz = dealership.tz
        self.today = today
        self.date_format = gettext("D j M")
        # The appointment page's address, with the id to fill in (one `reverse` per list).
        self.url = reverse("workshop:appointment", args=[0]).replace("/0/", "/{}/")
        # Relative to the list's own address when below it: 7 bytes a row.
        here = reverse("workshop:appointments")
        if here.endswith("/") and self.url.startswith(here):
            self.url = self.url.removeprefix(here)
        self.flags = {
            "new": self._flag("flag-new", gettext("New customer input")),
            "done": self._flag("flag-done", gettext("Every item handled")),
            "message": self._flag("flag-message", gettext("Unread message from the customer")),
        }
        # The customer's answer to "will you come?", after the name.
        self.said = {
            value: f"<small class=cf-{value}>{escape(str(label))}</small>"
            for value, label in Appointment.Confirmation.choices
            if value
        }
        # The visit state: icon (from the style sheet) and word.
        self.visits = {
            value: f"<em class=vs-{value}>{escape(str(label))}</em>"
            for value, label in Appointment.Status.choices
        }
        self.visits["waiting"] = "<em class=vs-waiting>{}</em>".format(
            escape(pgettext("visit state", "Late"))
        )
        self.late = "<em class=vs-late>{}</em>".format(
            escape(pgettext("visit state", "Late, promised %s"))
        )
        # The quick action of a booked row today: posts the form around the tables.
        arrived = escape(pgettext("visit action", "Arrived"))
        self.arrive = "<button name=a value={}>" + arrived + "</button>"
        self.invitations = {value: escape(str(label)) for value, label in Invitation.choices}
        self.invitations[Invitation.UNREACHABLE] = escape(
            pgettext("invitation status", "Not reachable")
        )
        self.progress = {
            "handled": pgettext("check-in progress", "Handled"),
            "answered": pgettext("check-in progress", "Answered"),
            "opened": pgettext("check-in progress", "Opened"),
            "invited": pgettext("check-in progress", "Invited"),
            "none": gettext("Not invited yet"),
        }

    @staticmethod
    def chip(css: str, label: str) -> str:
        """A chip with its icon; nothing yet (no icon, muted) is its text alone."""
        if css in QUIET:
            return label
        return f"<em class={css}>{label}</em>"

    @staticmethod
    def _flag(css: str, label: str) -> str:
        return f'<i class={css} role=img aria-label="{escape(label)}"></i>'

    def __call__(self, values: tuple[Any, ...], show_date: bool) -> Row:
        (
            pk,
            starts_at,
            status,
            reference,
            open_items,
            first_name,
            last_name,
            plate,
            make,
            model,
            invitation,
            invited,
            opened,
            answered,
            handled,
            unread,
            decline_waiting,
            confirmation,
            promised_ready_at,
            is_waiting,
            late_now,
            _fingerprint_text,
        ) = values
        local: datetime = starts_at.astimezone(self.tz)
        if late_now:
            visit = self.late % f"{promised_ready_at.astimezone(self.tz):%H:%M}"
        elif is_waiting:
            visit = self.visits["waiting"]
        elif status == Appointment.Status.SCHEDULED and local.date() == self.today:
            visit = ""
        else:
            visit = self.visits.get(status, "")
        if status == Appointment.Status.SCHEDULED and local.date() == self.today:
            visit += self.arrive.format(pk)
        if open_items:
            progress, flag = "open", self.flags["new"]
            progress_label = ngettext(
                "%(counter)s open item", "%(counter)s open items", open_items
            ) % {"counter": open_items}
        else:
            progress = (
                "handled"
                if handled
                else "answered"
                if answered
                else "opened"
                if opened
                else "invited"
                if invited
                else "none"
            )
            progress_label = self.progress[progress]
            flag = self.flags["done"] if handled and answered else ""
        if unread:
            flag = self.flags["message"]
        # Pinned rows stand in the pinned block, which marks them: no class of their own.
        # Rows of visits that will not happen are muted; the visit cell says the rest.
        css = f"is-{status}" if status in (Status.CANCELLED, Status.NO_SHOW) else ""
        invitation = invitation or Invitation.NOT_DUE
        html = ROW.format(
            css=f' class="{css}"' if css else "",
            date=(
                f"<small>{formats.date_format(local, self.date_format)}</small>"
                if show_date
                else ""
            ),
            time=f"{local:%H:%M}",
            flag=flag,
            url=self.url.format(pk),
            answered=" class=answered" if answered else "",
            customer=escape(f"{first_name} {last_name}".strip()),
            visit=visit,
            said=self.said.get(confirmation or "", ""),
            plate=escape(plate),
            vehicle=escape(f"{make} {model}"),
            progress=self.chip(f"pg-{progress}", escape(progress_label)),
            invitation=self.chip(f"st-{invitation}", self.invitations.get(invitation, "")),
            reference=escape(reference),
        )
        return Row(starts_at, open_items, SafeString(html), bool(unread or decline_waiting))


@dataclass
class AppointmentList:
    dealership: Dealership
    day: date
    query: str = ""
    filter: str = Filter.ALL
    pinned: list[Row] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    pinned_here: int = 0
    now: datetime = field(default_factory=timezone.now)
    _values: list[tuple[Any, ...]] | None = field(default=None, init=False, repr=False)

    @property
    def searching(self) -> bool:
        return bool(self.query)

    @property
    def count(self) -> int:
        """What the heading counts: every match, or every appointment of the day."""
        return len(self.rows) + self.pinned_here

    def queryset(self) -> QuerySet[Appointment]:
        """What the list shows, before its order: the day and every pinned appointment,
        or every match of the search; then the filter."""
        mine = Appointment.objects.filter(dealership=self.dealership)
        if self.searching:
            shown = mine.matching(self.query)
        else:
            day = Appointment.objects.for_day(self.dealership, self.day)
            # The few ids first, then their rows: given the ids as values, the planner
            # reads each row by its key; given the union as a subquery, it hashes whole
            # tables while they are small (twice the time at 10,000 appointments).
            ids = day.order_by().values("pk").union(pinned_ids(self.dealership))
            shown = Appointment.objects.filter(pk__in=[row["pk"] for row in ids])
        shown = shown.with_waiting()
        if self.filter in Filter.STATES:
            shown = shown.filter(status=Filter.STATES[self.filter])
        elif self.filter == Filter.LATE:
            shown = shown.filter(self._waiting_q() | self._late_q())
        elif not self.searching:
            # Cancelled ones leave the working list, unless the customer's cancellation
            # waits to be acknowledged (pinned); a search or the filter finds them.
            shown = shown.filter(~Q(status=Appointment.Status.CANCELLED) | Q(open_items__gt=0))
        if self.filter == Filter.ATTENTION:
            shown = shown.filter(
                Q(open_items__gt=0)
                | Q(unread__gt=0)
                | DECLINE_WAITING
                | Q(checkin__invitation_status__in=TROUBLE)
            )
        elif self.filter in (Filter.CONFIRMED, Filter.DECLINED):
            shown = shown.filter(confirmation=self.filter)
        elif self.filter == Filter.NO_REPLY:
            shown = shown.filter(confirmation=Appointment.Confirmation.NO_ANSWER)
        elif self.filter == Filter.ANSWERED:
            shown = shown.filter(checkin__answered_at__isnull=False)
        elif self.filter == Filter.NOT_ANSWERED:
            shown = shown.filter(checkin__answered_at__isnull=True)
        return shown

    def rows_query(self) -> QuerySet[Appointment]:
        """`queryset()` in the list's order, with what the rows and the fingerprint read."""
        qs = (
            self.queryset()
            .annotate(**STEPS)
            .annotate(
                is_waiting=ExpressionWrapper(self._waiting_q(), BooleanField()),
                late_now=ExpressionWrapper(self._late_q(), BooleanField()),
            )
            .annotate(fingerprint_text=FINGERPRINT_TEXT)
        )
        if self.searching:
            return qs.order_by("-starts_at", "pk")[:SEARCH_LIMIT]
        return qs.order_by("starts_at", "pk")

    def _waiting_q(self) -> Q:
        return waiting_for_arrival_q(self.dealership, self.now)

    def _late_q(self) -> Q:
        return late_q(self.now)

    def state_counts(self) -> list[tuple[str, str, int]]:
        """The day's appointments per visit state, and how many are late: one query."""
        day = Appointment.objects.for_day(self.dealership, self.day).order_by()
        per_state = list(
            day.values_list("status").annotate(
                n=Count("pk"), late=Count("pk", filter=self._waiting_q() | late_q(self.now))
            )
        )
        counts = {status: n for status, n, _late in per_state}
        late = sum(late for _status, _n, late in per_state)
        shown = [
            (value, str(label), counts[value])
            for value, label in Appointment.Status.choices
            if counts.get(value)
        ]
        if late:
            shown.append(("late", gettext("Late"), late))
        return shown

    def values(self) -> list[tuple[Any, ...]]:
        """The one query of a page: what every row shows, in the list's order, and the
        text of its fingerprint (last)."""
        if self._values is None:
            self._values = list(self.rows_query().values_list(*COLUMNS, "fingerprint_text"))
        return self._values

    def fingerprint(self) -> str:
        """What the list shows, hashed. From the rows when the page has them; else (the
        poll) from the database's text of each row alone."""
        if self._values is not None:
            texts = [values[-1] for values in self._values]
        else:
            rows = self.rows_query()
            texts = list(rows.values_list("fingerprint_text", flat=True))  # type: ignore[misc]  # annotated
        digest = hashlib.blake2b("\n".join(texts).encode(), digest_size=12)
        return digest.hexdigest()

    def load(self) -> "AppointmentList":
        start, end = self.dealership.local_day_bounds(self.day)
        make = RowMaker(self.dealership, today=self.now.astimezone(self.dealership.tz).date())
        self.pinned, self.rows, self.pinned_here = [], [], 0
        for values in self.values():
            starts_at, open_items = values[1], values[4]
            if open_items or values[UNREAD] or values[DECLINE]:
                self.pinned.append(make(values, show_date=True))
                # Counted under the heading too: every pinned match of a search, or
                # the pinned appointments of the day shown.
                if self.searching or start <= starts_at < end:
                    self.pinned_here += 1
            else:
                self.rows.append(make(values, show_date=self.searching))
        return self

    @property
    def conversations_waiting(self) -> int | None:
        """How many appointments have unread messages, when the list shows them all
        (no search, no filter: every pinned one is here); else None."""
        if self.searching or self.filter != Filter.ALL:
            return None
        return sum(1 for values in self.values() if values[UNREAD])

    @property
    def pinned_html(self) -> SafeString:
        return SafeString("".join(row.html for row in self.pinned))

    @property
    def rows_html(self) -> SafeString:
        return SafeString("".join(row.html for row in self.rows))


# --- The poll ------------------------------------------------------------------------
# A dealership's lists change only through the flows that call `list_changed`; a change
# made some other way (the admin, a shell, a flow that forgot) shows within SEEN_SECONDS,
# when what a poll saw is forgotten and the next one reads the list again.
SEEN_SECONDS = 60
VERSION_SECONDS = 24 * 60 * 60


def _version_key(dealership_id: int) -> str:
    return f"daylist:version:{dealership_id}"


def _new_version(dealership_id: int) -> None:
    # A random version, never a count: after the key expired or the cache restarted, a
    # version seen before can never come back and vouch for a list it did not see.
    cache.set(_version_key(dealership_id), secrets.token_hex(8), VERSION_SECONDS)


def list_changed(dealership_id: int) -> None:
    """What the dealership's lists show has changed (an appointment, its check-in's
    progress or invitation, an item opened or handled): polls read the list again.

    After the commit, so a poll never files the old rows under the new version; a cache
    that fails then is logged, and costs at most SEEN_SECONDS of staleness."""
    if settings.DAYLIST_POLL_CACHE:
        transaction.on_commit(partial(_new_version, dealership_id), robust=True)


def current_version(dealership_id: int) -> str:
    key = _version_key(dealership_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, secrets.token_hex(8), VERSION_SECONDS)
        version = cache.get(key)
    return str(version)


@dataclass
class Poll:
    """The list asking every few seconds whether what it shows (`known`, its fingerprint)
    is still what it would show, to which the answer is mostly yes (a 204).

    `unchanged_at_once` answers from the cache alone (one round trip), before the log-in
    check, the memberships and the list are read (`answers_quiet_polls`): what this
    session's last full poll of this list found (the dealership, its version then, the
    fingerprint) holds while the dealership's version is the same. Only a full poll
    (`unchanged`: signed in, a member, the dealership chosen by `staff_access`) writes
    it, for SEEN_SECONDS. So the cache never vouches for a session that was not signed
    in, or for a dealership its user is not in; a session signed out, a password changed
    or a membership taken away learns at most that nothing changed, and for at most
    SEEN_SECONDS. Off without a cache that every process shares (`DAYLIST_POLL_CACHE`):
    then each poll reads the list.
    """

    key: str  # the session and the list asked for (its day, search and filter), hashed
    known: str
    at: str  # the dealership the list was shown for, as the poll's URL says

    @classmethod
    def of(cls, request: HttpRequest) -> "Poll | None":
        known = request.GET.get("known", "")
        session_key = request.session.session_key  # from the cookie: nothing loaded
        if not (
            request.method == "GET"
            and request.headers.get("HX-Request") == "true"
            and known
            and session_key
        ):
            return None
        asked = "|".join([session_key, *(request.GET.get(n, "") for n in ("day", "q", "filter"))])
        digest = hashlib.blake2b(asked.encode(), digest_size=16).hexdigest()
        return cls(f"daylist:seen:{digest}", known, request.GET.get("at", ""))

    def unchanged_at_once(self) -> bool:
        """One round trip: what was seen, and the version of the dealership the URL names
        (only a hint: what was seen must be of that dealership)."""
        if not settings.DAYLIST_POLL_CACHE or not self.at.isdigit():
            return False
        version_key = _version_key(int(self.at))
        found = cache.get_many([self.key, version_key])
        seen = found.get(self.key)
        if seen is None:
            return False
        dealership_id, version, fingerprint = seen
        return (
            str(dealership_id) == self.at
            and fingerprint == self.known
            and found.get(version_key) == version
        )

    def unchanged(self, listing: AppointmentList) -> bool:
        if not settings.DAYLIST_POLL_CACHE:
            return listing.fingerprint() == self.known
        dealership_id = listing.dealership.pk
        version = current_version(dealership_id)  # before the list is read (see list_changed)
        fingerprint = listing.fingerprint()
        cache.set(self.key, (dealership_id, version, fingerprint), SEEN_SECONDS)
        return fingerprint == self.known


def answers_quiet_polls(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The list's view, with its polls answered 204 from the cache while nothing changed
    (`Poll.unchanged_at_once`); outermost, so that costs no query at all."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        poll = Poll.of(request)
        if poll and poll.unchanged_at_once():
            return HttpResponse(status=204)  # nothing changed: the list stays as it is
        return view(request, *args, **kwargs)

    return wrapped
