"""The visit on the staff pages: the appointment page's visit section and its dialogs, the
new check-in items, the list's visit column, filters and "Arrived" button, the mechanics'
order. What the customer is told is `workshop.visit.tell`'s (tests/workshop/test_visit.py)."""

import re
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.factories import AppointmentFactory, DealershipFactory, MembershipFactory
from tests.workshop.staffdata import at_local
from workshop import visit
from workshop.models import Appointment, AppointmentEvent, CheckInItem, Role

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
LIST = reverse("workshop:appointments")
Status = Appointment.Status

# A Tuesday morning in Brussels (the factories' dealership), 10:00 local.
DAY = date(2026, 12, 1)


@pytest.fixture
def at_ten(dealership):
    with time_machine.travel(at_local(dealership, DAY, 10), tick=False) as traveller:
        yield traveller


def booked(dealership, hour=14, day=DAY, **kwargs) -> Appointment:
    return AppointmentFactory(
        dealership=dealership,
        starts_at=at_local(dealership, day, hour),
        ends_at=at_local(dealership, day, hour + 1),
        **kwargs,
    )


def step_url(appointment, step) -> str:
    return reverse("workshop:visit_step", args=[appointment.pk, step])


def page(client, appointment) -> str:
    response = client.get(reverse("workshop:appointment", args=[appointment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def visit_buttons(body: str) -> set[str]:
    return set(re.findall(r'id="visit-(?!heading)([a-z_]+)"', body))


def fresh(appointment) -> Appointment:
    return Appointment.objects.get(pk=appointment.pk)


# --- The appointment page ----------------------------------------------------------------


def test_the_page_offers_only_the_steps_that_make_sense_now(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    body = page(staff_client, appointment)
    assert visit_buttons(body) == {"arrive", "move", "cancel"}
    assert "Booked" in body
    assert "0 times" in body

    Appointment.objects.filter(pk=appointment.pk).update(status=Status.ARRIVED)
    assert visit_buttons(page(staff_client, appointment)) == {"ready"}
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.READY)
    assert visit_buttons(page(staff_client, appointment)) == {"collect"}
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.DONE)
    assert visit_buttons(page(staff_client, appointment)) == set()


def test_a_car_not_come_after_the_grace_time_is_late_and_may_be_a_no_show(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=9)  # an hour ago; the grace time is 15 minutes
    body = page(staff_client, appointment)
    assert "Late: not arrived yet" in body
    assert "no_show" in visit_buttons(body)
    response = staff_client.post(step_url(appointment, "no_show"), headers=HTMX)
    assert response.status_code == 204
    assert "appointmentChanged" in response["HX-Trigger"]
    assert fresh(appointment).status == Status.NO_SHOW


def test_a_no_show_is_refused_before_the_grace_time_with_a_message(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=14)
    response = staff_client.post(step_url(appointment, "no_show"), follow=True)
    assert response.status_code == 200
    assert "That step no longer applies" in response.content.decode()
    assert fresh(appointment).status == Status.SCHEDULED


def test_arrived_with_a_promised_time_in_the_dealerships_time_zone(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=10)
    dialog = staff_client.get(step_url(appointment, "arrive"), headers=HTMX).content.decode()
    assert "<dialog" in dialog
    assert "Promised ready" in dialog
    response = staff_client.post(
        step_url(appointment, "arrive"), {"promised_ready": "2026-12-01T16:30"}, follow=True
    )
    assert "Marked arrived" in response.content.decode()
    appointment = fresh(appointment)
    assert appointment.status == Status.ARRIVED
    assert appointment.promised_ready_at == at_local(dealership, DAY, 16, 30)
    assert AppointmentEvent.objects.filter(appointment=appointment, kind="arrived").exists()


def test_without_javascript_a_dialog_is_a_page_of_its_own(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=10)
    body = staff_client.get(step_url(appointment, "arrive")).content.decode()
    assert "<html" in body
    assert "dialog-page" in body
    assert 'name="promised_ready"' in body


def test_arrived_ready_collected_each_once(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=10)
    for step, state in (("arrive", Status.ARRIVED), ("ready", Status.READY)):
        assert staff_client.post(step_url(appointment, step), headers=HTMX).status_code == 204
        assert fresh(appointment).status == state
    staff_client.post(step_url(appointment, "collect"))
    appointment = fresh(appointment)
    assert appointment.status == Status.DONE
    assert appointment.collected_at is not None
    # Pressed again (another receptionist was faster): a message, not an error page.
    again = staff_client.post(step_url(appointment, "collect"), follow=True)
    assert again.status_code == 200
    assert "now “Collected”" in again.content.decode()


def test_ready_is_refused_for_a_car_that_has_not_arrived(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    assert "ready" not in visit_buttons(page(staff_client, appointment))
    response = staff_client.post(step_url(appointment, "ready"), headers=HTMX)
    assert response.status_code == 204  # the page reloads its body and shows the message
    assert fresh(appointment).status == Status.SCHEDULED


def test_moving_needs_a_note_and_keeps_what_was_typed(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    response = staff_client.post(
        step_url(appointment, "move"),
        {"day": "2026-12-03", "start": "08:30", "end": "09:45", "note": " "},
        headers=HTMX,
    )
    assert response.status_code == 200
    form = response.content.decode()
    assert "<html" not in form
    assert 'class="dialog-form"' in form  # the form alone
    assert "Write a note for the customer" in form
    assert 'value="2026-12-03"' in form
    assert 'value="08:30"' in form
    assert 'value="09:45"' in form
    assert re.search(r'<textarea[^>]*name="note"[^>]*aria-invalid="true"', form)
    assert fresh(appointment).starts_at == at_local(dealership, DAY, 14)


def test_moving_with_a_note_moves_in_the_dealerships_time_zone(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    response = staff_client.post(
        step_url(appointment, "move"),
        {"day": "2026-12-03", "start": "08:30", "end": "09:45", "note": "The part is late."},
        follow=True,
    )
    assert "Moved; the customer is told the new time." in response.content.decode()
    appointment = fresh(appointment)
    assert appointment.starts_at == at_local(dealership, date(2026, 12, 3), 8, 30)
    assert appointment.ends_at == at_local(dealership, date(2026, 12, 3), 9, 45)
    assert appointment.moves == 1
    event = AppointmentEvent.objects.get(appointment=appointment, kind="moved")
    assert event.detail == "The part is late."


def test_moving_to_the_same_time_or_ending_before_the_start_is_refused(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=14)
    same = staff_client.post(
        step_url(appointment, "move"),
        {"day": "2026-12-01", "start": "14:00", "end": "15:00", "note": "x"},
    )
    assert "That is the time it already has" in same.content.decode()
    backwards = staff_client.post(
        step_url(appointment, "move"),
        {"day": "2026-12-04", "start": "14:00", "end": "13:00", "note": "x"},
    )
    assert "The end must be after the start." in backwards.content.decode()
    assert fresh(appointment).moves == 0


def test_moving_again_warns_which_move_it_will_be(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14, moves=visit.MANY_MOVES)
    dialog = staff_client.get(step_url(appointment, "move"), headers=HTMX).content.decode()
    assert f"this will be move number {visit.MANY_MOVES + 1}" in dialog
    quiet = booked(dealership, hour=15, moves=visit.MANY_MOVES - 1)
    assert "move number" not in staff_client.get(step_url(quiet, "move")).content.decode()


def test_cancelling_needs_a_reason_from_the_list_or_written(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    nothing = staff_client.post(step_url(appointment, "cancel"), {"other": " "}, headers=HTMX)
    assert "Choose a reason or write one." in nothing.content.decode()
    assert fresh(appointment).status == Status.SCHEDULED

    staff_client.post(step_url(appointment, "cancel"), {"reason": "2"})
    appointment = fresh(appointment)
    assert appointment.status == Status.CANCELLED
    assert appointment.cancelled_by == Appointment.CancelledBy.WORKSHOP
    assert appointment.cancel_reason == visit.WORKSHOP_REASONS[2]  # kept in English
    body = page(staff_client, appointment)
    assert "Booked twice" in body
    assert "by: Workshop" in body
    assert visit_buttons(body) == set()


def test_a_written_reason_is_kept_as_written(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=14)
    staff_client.post(
        step_url(appointment, "cancel"), {"reason": "other", "other": "Flooded workshop"}
    )
    assert fresh(appointment).cancel_reason == "Flooded workshop"


def test_unknown_steps_mechanics_and_other_dealerships_get_404(
    client, staff_client, dealership, mechanic, at_ten
):
    appointment = booked(dealership, hour=10)
    assert staff_client.get(step_url(appointment, "explode")).status_code == 404
    client.force_login(mechanic)
    for step in visit.STEPS:
        assert client.get(step_url(appointment, step)).status_code == 404
        assert client.post(step_url(appointment, step)).status_code == 404
    assert (
        client.post(reverse("workshop:arrive_from_list"), {"a": appointment.pk}).status_code == 404
    )
    outsider = MembershipFactory(dealership=DealershipFactory(), role=Role.MANAGER).user
    client.force_login(outsider)
    for step in visit.STEPS:
        assert client.post(step_url(appointment, step)).status_code == 404
    assert (
        client.post(reverse("workshop:arrive_from_list"), {"a": appointment.pk}).status_code == 404
    )
    assert fresh(appointment).status == Status.SCHEDULED


def test_the_customers_no_shows_and_late_cancellations_show_as_a_warning(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=14)
    customer = appointment.customer
    long_ago = datetime(2026, 6, 1, 9, tzinfo=dealership.tz)
    booked(dealership, day=long_ago.date(), customer=customer, status=Status.NO_SHOW)
    booked(
        dealership,
        day=long_ago.date(),
        customer=customer,
        status=Status.CANCELLED,
        cancelled_by=Appointment.CancelledBy.CUSTOMER,
        cancelled_at=at_local(dealership, long_ago.date(), 8),  # hours before the start
    )
    booked(  # in good time: not counted
        dealership,
        day=long_ago.date(),
        customer=customer,
        status=Status.CANCELLED,
        cancelled_by=Appointment.CancelledBy.CUSTOMER,
        cancelled_at=long_ago - timedelta(days=5),
    )
    body = page(staff_client, appointment)
    assert "1 no-show" in body
    assert "1 late cancellation" in body
    assert "Earlier visits" not in page(staff_client, booked(dealership, hour=15))


# --- The new check-in items ---------------------------------------------------------------


def test_a_customers_cancellation_is_acknowledged(staff_client, dealership, at_ten):
    appointment = booked(dealership, day=DAY + timedelta(days=3))
    assert visit.cancel_by_customer(appointment, reason="Sold the car")
    body = page(staff_client, appointment)
    assert "The customer cancelled the appointment" in body
    assert "Sold the car" in body
    assert ">Acknowledge<" in body
    item = CheckInItem.objects.get(kind=CheckInItem.Kind.CANCELLED)
    staff_client.post(reverse("workshop:handle_item", args=[appointment.pk, item.pk]), {})
    item.refresh_from_db()
    assert item.state == CheckInItem.State.HANDLED


def test_a_date_request_shows_the_days_in_the_staffs_language_and_moving_handles_it(
    client, receptionist, dealership, at_ten
):
    client.force_login(receptionist)
    appointment = booked(dealership, day=DAY + timedelta(days=3))
    wishes = [(date(2026, 12, 7), "morning"), (date(2026, 12, 8), "afternoon")]
    assert visit.request_other_date(appointment, wishes, note="Any time Monday")
    url = reverse("workshop:appointment", args=[appointment.pk])
    body = client.get(url).content.decode()
    assert "Monday 7 December, morning" in body
    assert "Tuesday 8 December, afternoon" in body
    item = CheckInItem.objects.get(kind=CheckInItem.Kind.DATE_REQUEST)
    assert f'id="move-{item.pk}"' in body
    dutch = client.get(url, headers={"Accept-Language": "nl"}).content.decode()
    assert "maandag 7 december" in dutch
    dialog = client.get(step_url(appointment, "move"), headers=HTMX).content.decode()
    assert "Monday 7 December, morning" in dialog
    client.post(
        step_url(appointment, "move"),
        {"day": "2026-12-07", "start": "08:00", "end": "09:00", "note": "As you asked."},
    )
    item.refresh_from_db()
    assert item.state == CheckInItem.State.HANDLED
    assert item.handling_note == "As you asked."


def test_a_low_rating_shows_its_stars_and_comment_and_is_handled_with_a_note(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, hour=8, status=Status.DONE)
    assert visit.rate(appointment, stars=2, comment="Waited an hour.")
    body = page(staff_client, appointment)
    assert "Rated the visit 2 stars out of 5" in body
    assert "Waited an hour." in body
    item = CheckInItem.objects.get(kind=CheckInItem.Kind.LOW_RATING)
    staff_client.post(
        reverse("workshop:handle_item", args=[appointment.pk, item.pk]), {"note": "Called."}
    )
    item.refresh_from_db()
    assert item.state == CheckInItem.State.HANDLED
    assert item.handling_note == "Called."


# --- The list ----------------------------------------------------------------------------


def rows(body: str) -> list[str]:
    return re.findall(r"<tr[^>]*><td>.*", body)


def row_of(body: str, appointment) -> str:
    return next(row for row in rows(body) if appointment.vehicle.plate in row)


def test_the_list_shows_the_visit_state_in_words(staff_client, dealership, at_ten):
    waiting = booked(dealership, hour=9)
    coming = booked(dealership, hour=14)
    late = booked(
        dealership,
        hour=8,
        status=Status.ARRIVED,
        promised_ready_at=at_local(dealership, DAY, 9, 30),
    )
    ready = booked(dealership, hour=8, status=Status.READY)
    body = staff_client.get(LIST).content.decode()
    assert "<em class=vs-waiting>Late</em>" in row_of(body, waiting)
    assert "<em class=vs-late>Late, promised 09:30</em>" in row_of(body, late)
    assert "<em class=vs-ready>Ready</em>" in row_of(body, ready)
    assert f"<button name=a value={coming.pk}>Arrived</button>" in row_of(body, coming)
    assert "<button" not in row_of(body, ready)
    # The day's counts, by state.
    assert "Booked: <strong>2</strong>" in body
    assert "Late: <strong>2</strong>" in body


def test_a_booked_row_of_another_day_has_no_arrived_button(staff_client, dealership, at_ten):
    tomorrow = booked(dealership, day=DAY + timedelta(days=1))
    body = staff_client.get(LIST, {"day": "2026-12-02"}).content.decode()
    assert "<em class=vs-scheduled>Booked</em>" in row_of(body, tomorrow)
    assert "<button" not in row_of(body, tomorrow)


def test_arrived_from_the_list_comes_back_to_the_list(staff_client, dealership, at_ten):
    appointment = booked(dealership, hour=11)
    body = staff_client.get(LIST, {"filter": "all"}).content.decode()
    assert 'action="/staff/arrived/"' in body
    response = staff_client.post(
        reverse("workshop:arrive_from_list"),
        {"a": appointment.pk, "next": f"{LIST}?day=2026-12-01"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?day=2026-12-01"
    assert fresh(appointment).status == Status.ARRIVED
    again = staff_client.post(
        reverse("workshop:arrive_from_list"), {"a": appointment.pk, "next": "https://evil.example/"}
    )
    assert again["Location"] == LIST
    assert "is no longer booked" in staff_client.get(LIST).content.decode()


def test_the_visit_filters(staff_client, dealership, at_ten):
    appointments = {
        "booked": booked(dealership, hour=14),
        "arrived": booked(dealership, hour=8, status=Status.ARRIVED),
        "ready": booked(dealership, hour=8, status=Status.READY),
        "late": booked(
            dealership,
            hour=8,
            status=Status.ARRIVED,
            promised_ready_at=at_local(dealership, DAY, 9),
        ),
        "waiting": booked(dealership, hour=9),
        "cancelled": booked(dealership, hour=15, status=Status.CANCELLED),
        "no_show": booked(dealership, hour=7, status=Status.NO_SHOW),
    }

    def shown(filter_value):
        body = staff_client.get(LIST, {"filter": filter_value}).content.decode()
        return {name for name, a in appointments.items() if a.vehicle.plate in body}

    assert shown("all") == set(appointments) - {"cancelled"}
    assert shown("arrived") == {"arrived", "late"}
    assert shown("ready") == {"ready"}
    assert shown("late") == {"late", "waiting"}
    assert shown("cancelled") == {"cancelled"}
    assert shown("no_show") == {"no_show"}
    plate = appointments["cancelled"].vehicle.plate
    found = staff_client.get(LIST, {"q": plate}).content.decode()
    assert "<em class=vs-cancelled>Cancelled</em>" in row_of(found, appointments["cancelled"])


def test_a_customers_cancellation_stays_pinned_on_the_list_until_acknowledged(
    staff_client, dealership, at_ten
):
    appointment = booked(dealership, day=DAY + timedelta(days=3))
    visit.cancel_by_customer(appointment)
    body = staff_client.get(LIST).content.decode()
    assert "pinned-heading" in body
    assert appointment.vehicle.plate in body


def test_the_poll_hears_a_visit_step(
    staff_client, dealership, at_ten, django_capture_on_commit_callbacks
):
    appointment = booked(dealership, hour=11)
    body = staff_client.get(LIST).content.decode()
    url = re.search(r'id="results"[^>]*hx-get="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert staff_client.get(url, headers=HTMX).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):  # the list told, after commit
        visit.arrive(appointment, user=None)
    response = staff_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert "<em class=vs-arrived>Arrived</em>" in response.content.decode()


# --- Mechanics ---------------------------------------------------------------------------


def test_mechanics_see_cars_in_the_workshop_first_and_late_ones_marked(
    client, mechanic, dealership, at_ten
):
    coming = booked(dealership, hour=9)
    inside = booked(dealership, hour=11, status=Status.ARRIVED)
    late = booked(
        dealership,
        hour=12,
        status=Status.ARRIVED,
        promised_ready_at=at_local(dealership, DAY, 9, 45),
    )
    gone = booked(dealership, hour=8, status=Status.NO_SHOW)
    client.force_login(mechanic)
    body = client.get(reverse("workshop:workshop_day")).content.decode()
    order = [m.group(1) for m in re.finditer(r'id="job-(\d+)"', body)]
    assert order == [str(inside.pk), str(late.pk), str(coming.pk)]
    assert str(gone.pk) not in order
    assert "Late: promised ready at 09:45" in body
    assert re.search(rf'class="job card is-late" id="job-{late.pk}"', body)


# --- Fixed queries ------------------------------------------------------------------------


def test_the_page_runs_the_same_queries_whatever_the_visit_shows(
    staff_client, dealership, at_ten, django_assert_num_queries
):
    plain = booked(dealership, hour=14)
    rated = booked(dealership, hour=8, status=Status.DONE, customer=plain.customer)
    visit.rate(rated, stars=1, comment="No.")
    wished = booked(dealership, day=DAY + timedelta(days=3), customer=plain.customer)
    visit.request_other_date(wished, [(date(2026, 12, 9), "morning")])
    gone = booked(dealership, day=DAY + timedelta(days=4), customer=plain.customer)
    visit.cancel_by_customer(gone, reason="Moved abroad")
    # session, user, memberships, the appointment (and its review), work items, items,
    # events, messages, quick replies, follow-ups, the customer's history; and the
    # follow-ups' attempts where there are follow-ups (the low rating opened one)
    for appointment, queries in ((plain, 11), (rated, 12), (wished, 11), (gone, 11)):
        url = reverse("workshop:appointment", args=[appointment.pk])
        staff_client.get(url)
        with django_assert_num_queries(queries):
            staff_client.get(url)


def test_the_list_runs_the_same_queries_whatever_the_visit_states(
    staff_client, dealership, at_ten, django_assert_num_queries
):
    staff_client.get(LIST)
    states = [Status.SCHEDULED, Status.ARRIVED, Status.READY, Status.CANCELLED, Status.NO_SHOW]
    for size in (2, 20):
        for n in range(size):
            booked(dealership, hour=7 + n % 10, status=states[n % len(states)])
        for filter_value in ("all", "late", "cancelled"):
            # session, user, memberships, the list's ids, its rows, the day's count per state
            with django_assert_num_queries(6):
                staff_client.get(LIST, {"filter": filter_value})
