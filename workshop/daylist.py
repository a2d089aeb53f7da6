"""The receptionist's appointment list: one query for the rows, one for the fingerprint.

Pinned appointments (an open check-in item) stand on top whatever their day; the rest
of the day follows. A search looks across every day. The list refreshes itself by
sending back the fingerprint of what it shows; when the fingerprint is unchanged the
server answers 204 without rendering anything.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Replace, Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workshop.models import Appointment, CheckInItem, Dealership, OnlineCheckIn

SEARCH_LIMIT = 100


class Filter:
    ALL = "all"
    ATTENTION = "attention"
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    CHOICES = [
        (ALL, _("All")),
        (ATTENTION, _("Needs attention")),
        (ANSWERED, pgettext_lazy("appointment list filter", "Answered")),
        (NOT_ANSWERED, pgettext_lazy("appointment list filter", "Not answered")),
    ]
    VALUES = tuple(value for value, _label in CHOICES)


Invitation = OnlineCheckIn.InvitationStatus
TROUBLE = [Invitation.FAILED, Invitation.UNREACHABLE]


def normalised_plate(text: str) -> str:
    """Plates are typed with or without dashes, dots and spaces: compare without them."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _with_open_count(queryset: QuerySet[Appointment]) -> QuerySet[Appointment]:
    open_items = (
        CheckInItem.objects.filter(
            checkin__appointment=OuterRef("pk"), state=CheckInItem.State.OPEN
        )
        .order_by()
        .values("checkin")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return queryset.annotate(
        open_count=Coalesce(Subquery(open_items, output_field=IntegerField()), Value(0))
    )


@dataclass
class AppointmentList:
    dealership: Dealership
    day: date
    query: str = ""
    filter: str = Filter.ALL
    pinned: list[Appointment] = field(default_factory=list)
    rows: list[Appointment] = field(default_factory=list)

    @property
    def searching(self) -> bool:
        return bool(self.query)

    @property
    def pinned_here(self) -> int:
        """Pinned appointments that belong under the heading below the pinned block too:
        every pinned match of a search, or the pinned appointments of the day shown."""
        if self.searching:
            return len(self.pinned)
        start, end = self._day_bounds()
        return sum(1 for appointment in self.pinned if start <= appointment.starts_at < end)

    @property
    def count(self) -> int:
        """What the heading counts: every match, or every appointment of the day."""
        return len(self.rows) + self.pinned_here

    def _day_bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.day, time.min, tzinfo=self.dealership.tz)
        return start, start + timedelta(days=1)

    def queryset(self) -> QuerySet[Appointment]:
        qs = _with_open_count(Appointment.objects.filter(dealership=self.dealership))
        if self.searching:
            qs = self._search(qs)
        else:
            start, end = self._day_bounds()
            qs = qs.filter(Q(starts_at__gte=start, starts_at__lt=end) | Q(open_count__gt=0))
        if self.filter == Filter.ATTENTION:
            qs = qs.filter(Q(open_count__gt=0) | Q(checkin__invitation_status__in=TROUBLE))
        elif self.filter == Filter.ANSWERED:
            qs = qs.filter(checkin__answered_at__isnull=False)
        elif self.filter == Filter.NOT_ANSWERED:
            qs = qs.filter(checkin__answered_at__isnull=True)
        return qs

    def _search(self, qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
        words = self.query.split()
        plate = normalised_plate(self.query)
        qs = qs.annotate(
            plate_key=Upper(
                Replace(
                    Replace(
                        Replace("vehicle__plate", Value("-"), Value("")), Value(" "), Value("")
                    ),
                    Value("."),
                    Value(""),
                )
            ),
            customer_name=Concat("customer__first_name", Value(" "), "customer__last_name"),
        )
        matches = Q(external_ref__icontains=self.query) | Q(
            *[Q(customer_name__icontains=word) for word in words]
        )
        if plate:
            matches |= Q(plate_key__contains=plate)
        return qs.filter(matches)

    def _ordered(self, qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
        if self.searching:
            return qs.order_by("-starts_at", "pk")[:SEARCH_LIMIT]
        return qs.order_by("starts_at", "pk")

    def load(self) -> "AppointmentList":
        """The rows, in one query whatever their number."""
        qs = self.queryset().select_related("customer", "vehicle", "checkin", "advisor")
        appointments = list(self._ordered(qs))
        # `open_count` is the annotation above; `has_open_items` is what `is_pinned` reads.
        self.pinned = [a for a in appointments if a.open_count]  # type: ignore[attr-defined]
        self.rows = [a for a in appointments if not a.open_count]  # type: ignore[attr-defined]
        for appointment in appointments:
            appointment.has_open_items = bool(appointment.open_count)  # type: ignore[attr-defined]
        return self

    def fingerprint(self) -> str:
        """What the list shows, hashed: one small query, no rendering."""
        values = self._ordered(self.queryset()).values_list(  # type: ignore[misc]  # annotated
            "pk",
            "starts_at",
            "status",
            "open_count",
            "customer__first_name",
            "customer__last_name",
            "vehicle__plate",
            "checkin__invitation_status",
            "checkin__invited_at",
            "checkin__opened_at",
            "checkin__answered_at",
            "checkin__last_answered_at",
            "checkin__handled_at",
        )
        digest = hashlib.blake2b(repr(list(values)).encode(), digest_size=12)
        return digest.hexdigest()
