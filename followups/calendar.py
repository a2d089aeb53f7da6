"""A dealership's working days: not a weekend, not a public holiday of its country (the
`holidays` library), not one of its own closing days. Every follow-up due date is worked
out here, in the dealership's time zone, and never falls on a closed day."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
from django.utils import timezone

from followups.models import ClosingDay
from workshop.models import Dealership

# How far ahead a due date is looked for; a dealership closed longer than this is not one.
HORIZON_DAYS = 60


@lru_cache(maxsize=64)
def public_holidays(country: str, year: int) -> frozenset[date]:
    try:
        found = holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the library does not know: weekends only
        return frozenset()
    return frozenset(found.keys())


class Calendar:
    """One dealership's closed days from `start` on, read once (one query)."""

    def __init__(self, dealership: Dealership, start: date, days: int = HORIZON_DAYS) -> None:
        self.dealership = dealership
        self.closing = set(
            ClosingDay.objects.filter(
                dealership=dealership, date__gte=start, date__lte=start + timedelta(days=days)
            ).values_list("date", flat=True)
        )

    def is_working_day(self, day: date) -> bool:
        if day.isoweekday() >= 6 or day in self.closing:
            return False
        return day not in public_holidays(self.dealership.country, day.year)

    def working_days(self, start: date, n: int) -> Iterable[date]:
        day = start
        for _step in range(HORIZON_DAYS * 2):
            if self.is_working_day(day):
                yield day
                n -= 1
                if n <= 0:
                    return
            day += timedelta(days=1)
        raise ValueError("No working day within the horizon")  # pragma: no cover


def local(dealership: Dealership, moment: datetime) -> datetime:
    return timezone.localtime(moment, dealership.tz)


def is_working_day(dealership: Dealership, day: date) -> bool:
    return Calendar(dealership, day, days=0).is_working_day(day)


def next_working_day(dealership: Dealership, after: datetime, n: int = 1) -> datetime:
    """The same local time of day, `n` working days after `after`'s local day."""
    here = local(dealership, after)
    start = here.date() + timedelta(days=1)
    day = list(Calendar(dealership, start).working_days(start, n))[-1]
    return _at(dealership, day, here.time())


def first_working_moment(dealership: Dealership, moment: datetime) -> datetime:
    """`moment` if it falls on a working day, else the start of the next working day
    (the dealership's first sending hour): when a new follow-up is due."""
    here = local(dealership, moment)
    calendar = Calendar(dealership, here.date())
    if calendar.is_working_day(here.date()):
        return moment
    day = next(iter(calendar.working_days(here.date(), 1)))
    return _at(dealership, day, dealership.sending_starts)


def _at(dealership: Dealership, day: date, at: time) -> datetime:
    # zoneinfo resolves a wall time that a DST change skips or repeats (fold=0).
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=dealership.tz)
