"""Due dates over working days: weekends, each shipped country's public holidays, the
dealership's own closing days, month and year ends, the dealership's time zone."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from followups.calendar import first_working_moment, is_working_day, next_working_day
from followups.models import ClosingDay
from tests.factories import DealershipFactory

pytestmark = pytest.mark.django_db

ZONES = {
    "BE": "Europe/Brussels",
    "NL": "Europe/Amsterdam",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
}


def at(country: str, day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(
        date.fromisoformat(day), time(hour, minute), tzinfo=ZoneInfo(ZONES[country])
    )


@pytest.mark.parametrize(
    ("country", "after", "expected", "holiday"),
    [
        ("BE", "2026-07-20", "2026-07-22", "2026-07-21"),  # National Day, a Tuesday
        ("BE", "2027-03-26", "2027-03-30", "2027-03-29"),  # Friday → Easter Monday → Tuesday
        ("NL", "2027-04-26", "2027-04-28", "2027-04-27"),  # King's Day, a Tuesday
        ("FR", "2026-07-13", "2026-07-15", "2026-07-14"),  # Bastille Day, a Tuesday
        ("DE", "2027-05-05", "2027-05-07", "2027-05-06"),  # Ascension Day, a Thursday
    ],
)
def test_the_next_attempt_skips_the_countrys_public_holiday(country, after, expected, holiday):
    dealership = DealershipFactory(country=country, time_zone=ZONES[country])

    due = next_working_day(dealership, at(country, after, 14, 30), 1)

    assert not is_working_day(dealership, date.fromisoformat(holiday))
    assert due == at(country, expected, 14, 30)  # the same local time of day


def test_a_holiday_of_another_country_is_a_working_day():
    belgian = DealershipFactory(country="BE")
    assert is_working_day(belgian, date(2027, 4, 27))  # King's Day is Dutch only
    assert is_working_day(belgian, date(2026, 7, 14))  # and Bastille Day French


def test_weekends_and_month_ends():
    dealership = DealershipFactory(country="BE")
    # Friday 31 July → Monday 3 August.
    assert next_working_day(dealership, at("BE", "2026-07-31"), 1) == at("BE", "2026-08-03")
    # Thursday 30 April: 1 May (Labour Day) is a Friday → Monday 4 May.
    assert next_working_day(dealership, at("BE", "2026-04-30"), 1) == at("BE", "2026-05-04")
    # New Year's Eve, a Thursday: Friday 1 January is closed; two working days on is Tuesday.
    assert next_working_day(dealership, at("BE", "2026-12-31"), 1) == at("BE", "2027-01-04")
    assert next_working_day(dealership, at("BE", "2026-12-31"), 2) == at("BE", "2027-01-05")


def test_a_closing_day_added_later_moves_the_next_due_date():
    dealership = DealershipFactory(country="BE")
    monday = at("BE", "2026-06-15")
    assert next_working_day(dealership, monday, 1) == at("BE", "2026-06-16")

    ClosingDay.objects.create(dealership=dealership, date=date(2026, 6, 16), label="Inventory")

    assert next_working_day(dealership, monday, 1) == at("BE", "2026-06-17")
    assert not is_working_day(dealership, date(2026, 6, 16))
    # Another dealership's closing day is not ours.
    assert is_working_day(DealershipFactory(country="BE"), date(2026, 6, 16))


def test_days_count_in_the_dealerships_time_zone():
    dealership = DealershipFactory(country="BE", time_zone="Europe/Brussels")
    # 22:30 UTC on Monday 20 July is already Tuesday 21 July (National Day) in Brussels.
    late_monday_utc = datetime(2026, 7, 20, 22, 30, tzinfo=ZoneInfo("UTC"))
    assert next_working_day(dealership, late_monday_utc, 1) == at("BE", "2026-07-22", 0, 30)


def test_a_follow_up_raised_on_a_closed_day_is_due_when_the_dealership_opens():
    dealership = DealershipFactory(country="BE", sending_starts=time(8, 30))
    saturday = at("BE", "2026-07-18", 11)
    assert first_working_moment(dealership, saturday) == at("BE", "2026-07-20", 8, 30)
    # Monday 20 July, then National Day: a Tuesday follow-up is due on Wednesday.
    assert first_working_moment(dealership, at("BE", "2026-07-21", 9)) == at(
        "BE", "2026-07-22", 8, 30
    )
    wednesday = at("BE", "2026-07-22", 16)
    assert first_working_moment(dealership, wednesday) == wednesday
