"""The visit (`workshop.visit`): each step only from its states, once, with one message
to the customer; concurrent steps on PostgreSQL; re-planning after moves, over random
sequences of moves, cancellations and dispatcher runs."""

import random
import threading
from datetime import date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.utils import timezone
from icalendar import Calendar

from followups.models import FollowUp, Reason
from notifications import delivery
from notifications.invitations import dispatch_due_invitations, dispatch_due_reminders
from notifications.models import Message
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, UserFactory
from workshop import visit
from workshop.models import Appointment, AppointmentEvent, CheckInItem, OnlineCheckIn

pytestmark = pytest.mark.django_db

Status = Appointment.Status
Purpose = Message.Purpose
BRUSSELS = ZoneInfo("Europe/Brussels")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


@pytest.fixture(autouse=True)
def monday_morning():
    """Inside the sending hours, where the workshop's news goes at once (some wait for
    them: `visit_news.send_at`); tests that need another time travel on from here."""
    with time_machine.travel(local("2026-11-23 10:00"), tick=True):
        yield


def in_state(status: str, **fields) -> Appointment:
    """An appointment that started an hour ago (so every step's time rule allows it)
    and is in `status`."""
    starts_at = timezone.now() - timedelta(hours=1)
    appointment = AppointmentFactory(
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=2), status=status, **fields
    )
    return Appointment.objects.select_related("dealership").get(pk=appointment.pk)


def run_step(step: str, appointment: Appointment) -> bool:
    now = timezone.now()
    if step == "arrive":
        return visit.arrive(appointment, user=None, now=now)
    if step == "ready":
        return visit.ready(appointment, user=None, now=now)
    if step == "collect":
        return visit.collect(appointment, user=None, now=now)
    if step == "no_show":
        return visit.no_show(appointment, user=None, now=now)
    if step == "cancel":
        return visit.cancel(appointment, by="workshop", reason="Part not delivered", now=now)
    if step == "move":
        later = appointment.starts_at + timedelta(days=2)
        return visit.move(
            appointment,
            starts_at=later,
            ends_at=later + timedelta(hours=1),
            note="The part comes Friday.",
            now=now,
        )
    raise AssertionError(step)


# Each step: the state it leads to and the message the customer gets.
LEADS_TO = {
    "arrive": (Status.ARRIVED, Purpose.ARRIVED),
    "ready": (Status.READY, Purpose.READY),
    "collect": (Status.DONE, Purpose.COLLECTED),
    "no_show": (Status.NO_SHOW, Purpose.NO_SHOW),
    "cancel": (Status.CANCELLED, Purpose.CANCELLED),
    "move": (Status.SCHEDULED, Purpose.MOVED),
}


def visit_messages(appointment: Appointment) -> list[Message]:
    return list(
        Message.objects.filter(appointment=appointment, purpose__in=list(LEADS_TO_PURPOSES))
    )


LEADS_TO_PURPOSES = {purpose for _status, purpose in LEADS_TO.values()}


@pytest.mark.parametrize("status", Status.values)
@pytest.mark.parametrize("step", list(visit.STEPS))
def test_each_step_is_allowed_only_from_its_states_and_tells_the_customer_once(step, status):
    appointment = in_state(status)
    allowed = status in visit.STEPS[step]

    assert run_step(step, appointment) is allowed

    appointment.refresh_from_db()
    if allowed:
        target, purpose = LEADS_TO[step]
        assert appointment.status == target
        (message,) = visit_messages(appointment)
        assert message.purpose == purpose
        # Pressed again: refused (or no longer booked), and nothing sent twice.
        assert run_step(step, appointment) is (step == "move")
        assert len(visit_messages(appointment)) == 1 + (step == "move")
    else:
        assert appointment.status == status
        assert visit_messages(appointment) == []
        assert not AppointmentEvent.objects.filter(appointment=appointment).exists()


def test_steps_offers_only_what_the_state_allows():
    arrived = in_state(Status.ARRIVED)
    assert visit.steps(arrived) == ["ready"]
    booked = in_state(Status.SCHEDULED)
    assert visit.steps(booked) == ["arrive", "move", "cancel", "no_show"]
    assert "ready" not in visit.steps(booked)


# --- The customer's message: purpose, language, channel, words ---------------------------


@pytest.fixture
def booked():
    starts_at = timezone.now() + timedelta(days=3)
    appointment = AppointmentFactory(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        customer__language="en",
        customer__preferred_channel="sms",
        dealership__booking_url="https://g.be/b",
        dealership__opening_hours="Mon-Fri 7:30-18:00",
    )
    return Appointment.objects.select_related("dealership", "customer").get(pk=appointment.pk)


def the_message(appointment: Appointment, purpose: str) -> Message:
    (message,) = Message.objects.filter(appointment=appointment, purpose=purpose)
    return message


def test_arrived_says_we_have_the_car_and_the_promised_time(booked):
    now = booked.starts_at
    promised = booked.starts_at.astimezone(BRUSSELS).replace(hour=16, minute=30)
    assert visit.arrive(booked, user=None, promised_ready_at=promised, now=now)

    message = the_message(booked, Purpose.ARRIVED)
    assert (message.channel, message.language, message.status) == ("sms", "en", "queued")
    assert "we have your Volkswagen Golf" in message.body
    assert "ready at 16:30" in message.body


def test_ready_gives_the_opening_hours_and_collected_thanks(booked):
    visit.arrive(booked, user=None, now=booked.starts_at)
    assert visit.ready(booked, user=None, now=booked.starts_at + timedelta(hours=3))
    assert "Open: Mon-Fri 7:30-18:00" in the_message(booked, Purpose.READY).body
    assert visit.collect(booked, user=None, now=booked.starts_at + timedelta(hours=4))
    assert "thank you for your visit" in the_message(booked, Purpose.COLLECTED).body


def test_a_workshop_cancellation_is_polite_with_the_reason_and_how_to_rebook(booked):
    assert visit.cancel(booked, by="workshop", reason="The mechanic is ill")
    body = the_message(booked, Purpose.CANCELLED).body
    assert "sorry" in body
    assert "The mechanic is ill" in body
    assert "+32 9 210 10 10" in body
    assert "https://g.be/b" in body


def test_the_dms_cancels_politely_without_a_reason(booked):
    assert visit.cancel(booked, by="dms")
    body = the_message(booked, Purpose.CANCELLED).body
    assert "sorry" in body
    assert "+32 9 210 10 10" in body


def test_a_customer_who_cancelled_gets_an_acknowledgement_not_an_apology(booked):
    assert visit.cancel_by_customer(booked, reason="Sold the car")
    message = the_message(booked, Purpose.CANCEL_ACK)
    assert "as you asked" in message.body
    assert "Sold the car" not in message.body
    assert not Message.objects.filter(appointment=booked, purpose=Purpose.CANCELLED).exists()


def test_a_no_show_says_we_missed_you_and_how_to_rebook(booked):
    now = visit.no_show_opens(booked) + timedelta(minutes=1)
    assert visit.no_show(booked, user=None, now=now)
    body = the_message(booked, Purpose.NO_SHOW).body
    assert "we missed you" in body
    assert "+32 9 210 10 10" in body
    # Someone calls them to book again.
    follow_up = FollowUp.objects.get(appointment=booked)
    assert (follow_up.reason, follow_up.status) == (Reason.NO_SHOW, FollowUp.Status.OPEN)


def test_the_message_goes_by_the_channel_the_customer_last_wrote_by(booked):
    Message.objects.create(
        appointment=booked,
        customer=booked.customer,
        channel="email",
        direction="in",
        purpose="reply",
        recipient="x",
        body="Can I come earlier?",
        status="received",
    )
    visit.arrive(booked, user=None, now=booked.starts_at)
    assert the_message(booked, Purpose.ARRIVED).channel == "email"


def test_the_message_avoids_a_channel_the_customer_opted_out_of(booked):
    booked.customer.sms_opted_out_at = timezone.now()
    booked.customer.save()
    visit.arrive(booked, user=None, now=booked.starts_at)
    assert the_message(booked, Purpose.ARRIVED).channel == "email"


def test_a_customer_we_cannot_reach_gets_no_message_but_the_step_happens():
    appointment = in_state(Status.SCHEDULED, customer=CustomerFactory(phone="", email=""))
    assert visit.arrive(appointment, user=None)
    assert not Message.objects.filter(appointment=appointment).exists()


def test_the_message_is_in_the_customers_language():
    appointment = in_state(Status.SCHEDULED, customer=CustomerFactory(language="de"))
    visit.arrive(appointment, user=None)
    assert the_message(appointment, Purpose.ARRIVED).language == "de"


# --- Moving ------------------------------------------------------------------------------


def test_a_move_tells_the_new_time_the_note_and_sends_a_new_calendar_entry(booked):
    new = (booked.starts_at + timedelta(days=4)).astimezone(BRUSSELS)
    new = new.replace(hour=14, minute=30, second=0, microsecond=0)
    assert visit.move(
        booked, starts_at=new, ends_at=new + timedelta(hours=1), note="Parts are late."
    )
    sms = the_message(booked, Purpose.MOVED)
    assert new.strftime("%d/%m 14:30") in sms.body
    assert "Parts are late." in sms.body
    assert f"{booked.checkin.link}/calendar.ics" in sms.body

    booked.customer.preferred_channel = "email"
    booked.customer.save()
    later = new + timedelta(days=1)
    assert visit.move(booked, starts_at=later, ends_at=later + timedelta(hours=1), note="Sorry!")
    email = Message.objects.filter(purpose=Purpose.MOVED, channel="email").get()
    sms.refresh_from_db()
    assert sms.status == "cancelled"  # the older time gives way, if it had not gone yet
    delivery.send_message(email.pk)
    (sent,) = mail.outbox
    ((name, content, mimetype),) = sent.attachments
    assert name == "appointment.ics"
    assert mimetype.startswith("text/calendar")
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert event["SEQUENCE"] == 2  # moved twice: calendars replace the older entry
    assert event["DTSTART"].dt == later
    assert str(event["UID"]).startswith(f"appointment-{booked.pk}@")
    assert "Kortrijksesteenweg 1" in str(event["LOCATION"])


def test_a_move_resets_the_answer_counts_and_answers_a_date_request_and_a_decline(booked):
    Appointment.objects.filter(pk=booked.pk).update(
        confirmation="declined", confirmation_at=timezone.now()
    )
    booked.refresh_from_db()
    assert visit.request_other_date(booked, [(date(2030, 1, 7), "morning")], note="Mondays")
    new = booked.starts_at + timedelta(days=7)

    receptionist = UserFactory()
    assert visit.move(
        booked,
        starts_at=new,
        ends_at=new + timedelta(hours=1),
        note="Monday ok",
        user=receptionist,
    )

    booked.refresh_from_db()
    assert (booked.confirmation, booked.confirmation_at, booked.moves) == ("", None, 1)
    assert booked.decline_handled_at is not None  # the decline no longer pins
    request = CheckInItem.objects.get(kind=CheckInItem.Kind.DATE_REQUEST)
    assert request.state == CheckInItem.State.HANDLED
    assert (request.handling_note, request.handled_by) == ("Monday ok", receptionist)
    assert not Appointment.objects.pinned().filter(pk=booked.pk).exists()
    assert booked.checkin.link == OnlineCheckIn.objects.get(appointment=booked).link


def test_a_dms_move_leaves_a_date_request_open_for_staff(booked):
    assert visit.request_other_date(booked, [(date(2030, 1, 7), "afternoon")])
    new = booked.starts_at + timedelta(days=1)
    assert visit.move(booked, starts_at=new, ends_at=new + timedelta(hours=1))
    request = CheckInItem.objects.get(kind=CheckInItem.Kind.DATE_REQUEST)
    assert request.state == CheckInItem.State.OPEN
    assert "Calendar:" in the_message(booked, Purpose.MOVED).body  # told, without a note


def test_the_same_time_again_is_no_move(booked):
    assert not visit.move(booked, starts_at=booked.starts_at, ends_at=booked.ends_at)
    assert booked.moves == 0
    assert not Message.objects.filter(appointment=booked).exists()


# --- Time rules: no-show window, free cancellation ---------------------------------------


def test_a_no_show_can_be_recorded_from_the_grace_time_until_a_day_after_the_start(booked):
    opens = visit.no_show_opens(booked)
    assert opens == booked.starts_at + timedelta(minutes=15)
    assert not visit.no_show(booked, user=None, now=opens - timedelta(seconds=1))
    assert not visit.no_show(
        booked, user=None, now=booked.starts_at + timedelta(hours=24, seconds=1)
    )
    assert "no_show" not in visit.steps(booked, booked.starts_at + timedelta(hours=25))
    booked.refresh_from_db()
    assert booked.status == Status.SCHEDULED
    assert visit.no_show(booked, user=None, now=booked.starts_at + timedelta(hours=24))
    booked.refresh_from_db()
    assert booked.status == Status.NO_SHOW


def test_free_cancellation_ends_the_dealerships_hours_before_the_start(booked):
    limit = booked.starts_at - timedelta(hours=24)
    assert visit.may_cancel_free(booked, limit - timedelta(seconds=1))
    assert not visit.may_cancel_free(booked, limit)
    assert not visit.cancel_by_customer(booked, now=limit)
    booked.refresh_from_db()
    assert booked.status == Status.SCHEDULED
    assert visit.cancel_by_customer(booked, now=limit - timedelta(seconds=1))
    booked.refresh_from_db()
    assert (booked.status, booked.cancelled_by) == (Status.CANCELLED, "customer")
    assert Appointment.objects.pinned().filter(pk=booked.pk).exists()  # until acknowledged


# --- Rating ------------------------------------------------------------------------------


def test_a_visit_is_rated_once_and_a_low_rating_pins_it_for_the_manager():
    appointment = in_state(Status.DONE)
    assert visit.rate(appointment, stars=2, comment="Waited an hour")
    assert not visit.rate(appointment, stars=5)
    assert appointment.review.stars == 2
    item = CheckInItem.objects.get(kind=CheckInItem.Kind.LOW_RATING)
    assert item.state == CheckInItem.State.OPEN
    assert item.description == "Waited an hour"
    assert Appointment.objects.pinned().filter(pk=appointment.pk).exists()
    follow_up = FollowUp.objects.get(appointment=appointment)
    assert (follow_up.reason, follow_up.about) == (Reason.LOW_RATING, "2/5")


def test_a_good_rating_pins_nothing_and_only_a_collected_visit_is_rated():
    assert not visit.rate(in_state(Status.READY), stars=5)
    appointment = in_state(Status.DONE)
    assert visit.rate(appointment, stars=4)
    assert not CheckInItem.objects.filter(kind=CheckInItem.Kind.LOW_RATING).exists()
    assert not FollowUp.objects.exists()


# --- Two receptionists at once, on PostgreSQL ---------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one writer at a time anyway"
)


def at_once(*steps) -> list[object]:
    """Runs each callable on its own thread and connection, released together."""
    barrier = threading.Barrier(len(steps))
    results: list[object] = [None] * len(steps)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = steps[index]()
        except BaseException as error:  # looked at by the test
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def fresh(pk: int) -> Appointment:
    return Appointment.objects.select_related("dealership").get(pk=pk)


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_two_receptionists_pressing_arrived_at_once_send_one_message(attempt):
    appointment = in_state(Status.SCHEDULED)
    results = at_once(
        lambda: visit.arrive(fresh(appointment.pk), user=None),
        lambda: visit.arrive(fresh(appointment.pk), user=None),
    )
    assert sorted(results, key=str) == [False, True]
    assert Message.objects.filter(appointment=appointment, purpose=Purpose.ARRIVED).count() == 1
    assert AppointmentEvent.objects.filter(appointment=appointment, kind="arrived").count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_arrived_cancel_and_move_at_once_leave_one_outcome_and_one_message(attempt):
    appointment = in_state(Status.SCHEDULED)
    later = appointment.starts_at + timedelta(days=2)
    results = at_once(
        lambda: visit.arrive(fresh(appointment.pk), user=None),
        lambda: visit.cancel(fresh(appointment.pk), by="workshop", reason="Closed"),
        lambda: visit.move(
            fresh(appointment.pk), starts_at=later, ends_at=later + timedelta(hours=1), note="x"
        ),
    )
    assert all(isinstance(result, bool) for result in results), results
    appointment.refresh_from_db()
    messages = list(
        Message.objects.filter(appointment=appointment).values_list("purpose", "status")
    )
    if appointment.status == Status.ARRIVED:
        assert results[:2] == [True, False]
        # A move that got in first is queued, and not sent once the car is here.
        live = sorted(p for p, s in messages if s != "cancelled")
        assert live == sorted(["arrived"] + ["moved"] * bool(results[2]))
    elif appointment.status == Status.CANCELLED:
        assert results[:2] == [False, True]
        live = [p for p, s in messages if s != "cancelled"]
        assert live == ["cancelled"]  # a move before it was withdrawn with it
    else:  # moved, and then neither arrived (a later press would) nor cancelled
        raise AssertionError((appointment.status, results))


# --- Re-planning: random moves, cancellations and dispatcher runs -------------------------


@pytest.fixture
def always_open(db):
    return DealershipFactory(
        sending_starts=clock(0, 0),
        sending_ends=clock(23, 59, 59, 999999),
        sending_days="1234567",
        invitation_lead_days=3,
    )


def send_everything_queued(sent: list[tuple[str, tuple, datetime]], appointment) -> None:
    """Runs the delivery on every queued message, as the send tasks would; records
    what went out with the booking it was for (the moves so far and the start the
    appointment had at that moment) and when."""
    queued = list(Message.objects.filter(status="queued").values_list("pk", flat=True))
    delivery.send_messages(queued)
    appointment.refresh_from_db()
    for purpose in Message.objects.filter(pk__in=queued, status="sent").values_list(
        "purpose", flat=True
    ):
        sent.append((purpose, (appointment.moves, appointment.starts_at), timezone.now()))


@pytest.mark.parametrize("seed", range(40))
def test_one_invitation_and_at_most_one_reminder_per_date_and_none_after_cancelling(
    always_open, seed
):
    rng = random.Random(seed)
    start = local("2026-11-23 09:00")
    sent: list[tuple[str, tuple, datetime]] = []
    cancelled_at = None
    reached_before_start = False
    with time_machine.travel(start, tick=False) as traveller:
        appointment = AppointmentFactory(
            dealership=always_open,
            starts_at=start + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)),
        )
        appointment.ends_at = appointment.starts_at + timedelta(hours=1)
        appointment.save()
        for _ in range(rng.randint(5, 25)):
            traveller.shift(timedelta(hours=rng.choice([1, 3, 7, 13, 25])))
            now = timezone.now()
            action = rng.choice(["dispatch", "dispatch", "send", "move", "move", "cancel"])
            if action == "dispatch":
                dispatch_due_invitations(now)
                dispatch_due_reminders(now)
            elif action == "send":
                send_everything_queued(sent, appointment)
            elif action == "move":
                new = now + timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 10))
                visit.move(appointment, starts_at=new, ends_at=new + timedelta(hours=1), now=now)
            elif (
                action == "cancel"
                and rng.random() < 0.3
                and visit.cancel(appointment, by="workshop", now=now)
            ):
                cancelled_at = now
        # The end: dispatch and send right before the start, when everything is due.
        appointment.refresh_from_db()
        if appointment.starts_at > timezone.now():
            reached_before_start = True
            traveller.move_to(appointment.starts_at - timedelta(minutes=30))
        for _ in range(2):
            dispatch_due_invitations(timezone.now())
            dispatch_due_reminders(timezone.now())
            send_everything_queued(sent, appointment)

    appointment.refresh_from_db()
    for purpose in ("invitation", "reminder"):
        per_date: dict[tuple, int] = {}
        for what, booking, _at in sent:
            if what == purpose:
                per_date[booking] = per_date.get(booking, 0) + 1
        assert all(count == 1 for count in per_date.values()), (purpose, per_date, seed)
    if cancelled_at is not None:
        late = [s for s in sent if s[0] in ("invitation", "reminder") and s[2] >= cancelled_at]
        assert late == [], seed
    elif reached_before_start:
        # Still booked, for a time we reached just before: invited for it exactly once.
        booking = (appointment.moves, appointment.starts_at)
        invited = [s for s in sent if s[0] == "invitation" and s[1] == booking]
        assert len(invited) == 1, (seed, sent)


# --- What a step costs -------------------------------------------------------------------


def count_queries(work) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        work()
    return len(queries.captured_queries)


def with_history(messages: int) -> Appointment:
    appointment = in_state(Status.SCHEDULED)
    for n in range(messages):
        Message.objects.create(
            appointment=appointment,
            customer=appointment.customer,
            channel="sms",
            direction="in",
            purpose="reply",
            recipient="x",
            body=f"Message {n}",
            status="received",
        )
    return Appointment.objects.select_related("dealership").get(pk=appointment.pk)


@pytest.mark.parametrize("step", ["arrive", "cancel", "move"])
def test_a_step_and_its_message_cost_the_same_whatever_the_history(step):
    short, long = with_history(1), with_history(30)
    assert count_queries(lambda: run_step(step, short)) == count_queries(
        lambda: run_step(step, long)
    )
