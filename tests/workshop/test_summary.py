"""The staff's morning summary e-mail: when it goes out, to whom, once a day, what it
says, in the dealership's language; a fixed number of queries per dealership."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    AppointmentFactory,
    DealershipFactory,
    MembershipFactory,
    RemarkFactory,
    UserFactory,
)
from tests.locks import postgresql_only, while_held
from tests.notifications.test_reply_address import smtp_server  # noqa: F401 - fixture
from workshop import summary
from workshop.models import Appointment, CheckInItem, Dealership, Role

pytestmark = pytest.mark.django_db

# Tuesday 8 December 2026 in Brussels (UTC+1): the dealership sends from 9:00.
BEFORE_NINE = datetime(2026, 12, 8, 7, 50, tzinfo=UTC)  # 8:50 local
AFTER_NINE = datetime(2026, 12, 8, 8, 5, tzinfo=UTC)  # 9:05 local
TODAY_TEN = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 local


@pytest.fixture
def dealership():
    return DealershipFactory(name="Garage Leie", language="nl")


def member(dealership: Dealership, email: str, *, wants: bool = True, **user: object):
    return MembershipFactory(
        dealership=dealership,
        user=UserFactory(username=email.split("@")[0], email=email, **user),
        role=Role.RECEPTIONIST,
        morning_summary=wants,
    )


def booked(dealership, at: datetime, **fields) -> Appointment:
    return AppointmentFactory(dealership=dealership, starts_at=at, **fields)


def test_it_goes_out_from_the_sending_start_once_to_those_who_opted_in(
    dealership, mailoutbox, time_machine
):
    member(dealership, "rita@garage.example")
    member(dealership, "piet@garage.example")
    member(dealership, "no@garage.example", wants=False)
    member(dealership, "gone@garage.example", is_active=False)
    member(DealershipFactory(), "elsewhere@garage.example", wants=False)
    time_machine.move_to(BEFORE_NINE)
    assert summary.send_due_summaries() == 0
    time_machine.move_to(AFTER_NINE)
    assert summary.send_due_summaries() == 1
    assert sorted(mail.to[0] for mail in mailoutbox) == [
        "piet@garage.example",
        "rita@garage.example",
    ]
    # Later runs that morning, or a second scheduler, send nothing more.
    time_machine.move_to(AFTER_NINE + timedelta(hours=2))
    assert summary.send_due_summaries() == 0
    assert not summary.send_summary(dealership)
    assert len(mailoutbox) == 2
    # The next morning it goes out again.
    time_machine.move_to(AFTER_NINE + timedelta(days=1))
    assert summary.send_due_summaries() == 1
    assert len(mailoutbox) == 4


def test_not_on_a_day_without_sending_nor_after_the_sending_end(
    dealership, mailoutbox, time_machine
):
    member(dealership, "rita@garage.example")
    time_machine.move_to(AFTER_NINE + timedelta(days=5))  # Sunday: not a sending day
    assert summary.send_due_summaries() == 0
    time_machine.move_to(datetime(2026, 12, 8, 18, 30, tzinfo=UTC))  # 19:30 local
    assert summary.send_due_summaries() == 0
    assert mailoutbox == []


def test_it_lists_today_what_waits_and_who_did_not_confirm_in_the_dealerships_language(
    dealership, mailoutbox, time_machine
):
    member(dealership, "rita@garage.example")
    time_machine.move_to(AFTER_NINE)
    quiet = booked(dealership, TODAY_TEN, vehicle__plate="1-AAA-001")
    booked(
        dealership,
        TODAY_TEN + timedelta(hours=1),
        vehicle__plate="1-BBB-002",
        confirmation=Appointment.Confirmation.CONFIRMED,
    )
    declined = booked(
        dealership,
        TODAY_TEN + timedelta(hours=2),
        vehicle__plate="1-CCC-003",
        confirmation=Appointment.Confirmation.DECLINED,
    )
    booked(dealership, TODAY_TEN, vehicle__plate="1-XXX-999", status="cancelled")
    later = booked(dealership, TODAY_TEN + timedelta(days=3), vehicle__plate="1-DDD-004")
    RemarkFactory(checkin=later.checkin, state=CheckInItem.State.OPEN, subject="Lawaai")
    booked(DealershipFactory(), TODAY_TEN, vehicle__plate="1-ZZZ-000")  # another dealership's

    summary.send_due_summaries()

    (mail,) = mailoutbox
    assert "8 december 2026" in mail.subject  # in Dutch
    assert "Garage Leie" in mail.subject
    body = mail.body
    assert "1-AAA-001" in body
    assert "1-BBB-002" in body
    assert "1-CCC-003" in body
    assert "1-XXX-999" not in body
    assert "1-ZZZ-000" not in body
    read = summary.read_summary(dealership, AFTER_NINE.date())
    assert len(read.appointments) == 3
    assert [a.pk for a in read.unconfirmed] == [quiet.pk]
    assert [a.pk for a in read.declined] == [declined.pk]
    # Pinned, whatever their day: the open remark, the decline nobody handled.
    assert {a.pk for a in read.pinned} == {later.pk, declined.pk}
    assert "1-DDD-004" in body
    html = mail.alternatives[0][0]
    assert f"/appointments/{later.pk}/" in html
    assert 'lang="nl"' in html


def test_a_refused_sending_leaves_the_day_to_the_next_run(
    dealership, mailoutbox, settings, time_machine
):
    member(dealership, "rita@garage.example")
    time_machine.move_to(AFTER_NINE)
    settings.EMAIL_BACKEND = "tests.notifications.refusing_backend.BusyBackend"
    assert summary.send_due_summaries() == 0
    dealership.refresh_from_db()
    assert dealership.summary_sent_on is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert summary.send_due_summaries() == 1
    assert len(mailoutbox) == 1


def queries_for(dealership, size: int) -> int:
    for n in range(size):
        member(dealership, f"staff{n}@{dealership.slug}.example")
        appointment = booked(dealership, TODAY_TEN + timedelta(minutes=n))
        RemarkFactory(checkin=appointment.checkin, state=CheckInItem.State.OPEN, subject="R")
        booked(dealership, TODAY_TEN + timedelta(days=n + 1))
    with CaptureQueriesContext(connection) as queries:
        assert summary.send_summary(dealership)
    return len(queries)


def test_a_summary_runs_a_fixed_number_of_queries(mailoutbox, time_machine):
    time_machine.move_to(AFTER_NINE)
    small = queries_for(DealershipFactory(), 1)
    large = queries_for(DealershipFactory(), 20)
    assert small == large
    assert len(mailoutbox) == 21


def test_it_goes_through_a_real_smtp_server(dealership, smtp_server, time_machine):  # noqa: F811
    member(dealership, "rita@garage.example")
    member(dealership, "piet@garage.example")
    time_machine.move_to(AFTER_NINE)
    booked(dealership, TODAY_TEN, vehicle__plate="1-AAA-001")
    assert summary.send_due_summaries() == 1
    assert sorted(e.rcpt_tos[0] for e in smtp_server.envelopes) == [
        "piet@garage.example",
        "rita@garage.example",
    ]
    for envelope in smtp_server.envelopes:
        assert len(envelope.rcpt_tos) == 1  # nobody sees the others' addresses
        sent = message_from_bytes(envelope.content, policy=policy.default)
        assert "1-AAA-001" in sent.get_body(("plain",)).get_content()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_send_one_summary(mailoutbox, time_machine):
    dealership = DealershipFactory(language="nl")
    member(dealership, "rita@garage.example")
    time_machine.move_to(AFTER_NINE, tick=True)
    first, second, waited = while_held(
        lambda: summary.send_summary(dealership), lambda: summary.send_summary(dealership)
    )
    assert waited  # the second waited for the first's claim, then found the day taken
    assert (first, second) == (True, False)
    assert len(mailoutbox) == 1


def test_beat_runs_the_summaries(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["morning-summaries"]
    assert entry["task"] == "workshop.morning_summaries"
    app.loader.import_default_modules()  # what a worker does when it starts
    assert entry["task"] in app.tasks


def test_the_opt_in_shows_in_the_admin(admin_client, dealership):
    member(dealership, "rita@garage.example")
    response = admin_client.get("/admin/workshop/membership/")
    assert "column-morning_summary" in response.content.decode()
