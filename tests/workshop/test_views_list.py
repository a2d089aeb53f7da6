"""The receptionist's list: the day, pinned answers on top, search, filters, live refresh."""

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import AppointmentFactory, DealershipFactory, UserFactory
from tests.workshop.staffdata import answered, appointment_today, at_local, open_remark
from workshop import checkin as flow
from workshop.daylist import COLUMNS, AppointmentList
from workshop.models import Appointment, Customer, OnlineCheckIn, Vehicle

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's query plans; CI runs it"
)

LIST = reverse("workshop:appointments")


def rows_of(body: str, section_id: str) -> str:
    """The HTML of one block of the list (pinned-heading or day-heading)."""
    start = body.index(f'id="{section_id}"')
    end = body.find("</section>", start)
    return body[start:end]


def test_the_list_opens_on_today_in_the_dealerships_time_zone(staff_client, dealership):
    # 23:30 UTC on 9 March is already 10 March in Brussels.
    with time_machine.travel(datetime(2026, 3, 9, 23, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        on_the_10th = AppointmentFactory(
            dealership=dealership, starts_at=at_local(dealership, date(2026, 3, 10), 9)
        )
        on_the_9th = AppointmentFactory(
            dealership=dealership, starts_at=at_local(dealership, date(2026, 3, 9), 9)
        )
        body = staff_client.get(LIST).content.decode()
    assert on_the_10th.vehicle.plate in body
    assert on_the_9th.vehicle.plate not in body
    assert "Tuesday 10 March 2026" in body


def test_previous_and_next_day_links_and_the_date_picker(staff_client, dealership):
    day = date(2030, 5, 14)
    there = AppointmentFactory(dealership=dealership, starts_at=at_local(dealership, day, 9))
    body = staff_client.get(LIST, {"day": "2030-05-14"}).content.decode()
    assert there.vehicle.plate in body
    assert 'href="/staff/?day=2030-05-13"' in body
    assert 'href="/staff/?day=2030-05-15"' in body
    assert 'type="date" id="day" name="day" value="2030-05-14"' in body
    next_day = staff_client.get(LIST, {"day": "2030-05-15"}).content.decode()
    assert there.vehicle.plate not in next_day


def test_a_nonsense_day_shows_today(staff_client, dealership):
    here = appointment_today(dealership)
    assert here.vehicle.plate in staff_client.get(LIST, {"day": "yesterday'"}).content.decode()


def test_pinned_appointments_stand_on_top_whatever_their_day(staff_client, dealership):
    today = appointment_today(dealership)
    later = AppointmentFactory(dealership=dealership, starts_at=timezone.now() + timedelta(days=9))
    answered(later)
    body = staff_client.get(LIST).content.decode()
    pinned = rows_of(body, "pinned-heading")
    day = rows_of(body, "day-heading")
    assert later.vehicle.plate in pinned
    assert 'aria-label="New customer input"' in pinned  # the icon's text alternative
    assert "1 open item" in pinned
    assert today.vehicle.plate in day
    assert later.vehicle.plate not in day
    assert body.index("pinned-heading") < body.index("day-heading")


def test_the_customers_name_is_highlighted_once_answered(staff_client, dealership):
    quiet = appointment_today(dealership)
    talked = appointment_today(dealership, hour=11)
    answered(talked, remarks=())  # answered without anything to handle
    body = staff_client.get(LIST).content.decode()
    assert re.search(
        rf"<a href=[^ >]+ class=answered>{re.escape(talked.customer.full_name)}<", body
    )
    assert re.search(rf"<a href=[^ >]+>{re.escape(quiet.customer.full_name)}<", body)


def test_when_every_item_is_handled_the_appointment_unpins_with_a_done_icon(
    staff_client, dealership
):
    later = AppointmentFactory(dealership=dealership, starts_at=timezone.now() + timedelta(days=9))
    remark = answered(later)["remarks"][0]
    flow.handle_item(remark, UserFactory())
    body = staff_client.get(LIST).content.decode()
    assert later.vehicle.plate not in body
    assert "pinned-heading" not in body
    its_day = later.local_start.date().isoformat()
    there = staff_client.get(LIST, {"day": its_day}).content.decode()
    row = rows_of(there, "day-heading")
    assert later.vehicle.plate in row
    assert 'aria-label="Every item handled"' in row


def test_each_row_shows_the_invitation_state(staff_client, dealership):
    statuses = {
        OnlineCheckIn.InvitationStatus.SENT: "Sent",
        OnlineCheckIn.InvitationStatus.DELIVERED: "Delivered",
        OnlineCheckIn.InvitationStatus.FAILED: "Failed",
        OnlineCheckIn.InvitationStatus.UNREACHABLE: "Not reachable",
    }
    for hour, status in enumerate(statuses, start=8):
        appointment = appointment_today(dealership, hour=hour)
        OnlineCheckIn.objects.filter(appointment=appointment).update(invitation_status=status)
    body = staff_client.get(LIST).content.decode()
    for label in statuses.values():
        assert f"{label}</em>" in body


# Not the factories' 1-ABC-nnn, which the other appointment may get by its sequence.
@pytest.mark.parametrize("typed", ["7-pit-042", "7PIT042", "7 PIT 042"])
def test_search_finds_a_plate_however_it_is_typed_on_any_day(staff_client, dealership, typed):
    far = AppointmentFactory(
        dealership=dealership,
        starts_at=timezone.now() + timedelta(days=30),
        vehicle__plate="7-PIT-042",
    )
    other = appointment_today(dealership)
    body = staff_client.get(LIST, {"q": typed}).content.decode()
    assert far.vehicle.plate in body
    assert other.vehicle.plate not in body


def test_search_by_customer_name_and_by_reference(staff_client, dealership):
    wanted = AppointmentFactory(
        dealership=dealership,
        customer__first_name="Sofie",
        customer__last_name="Van den Berg",
        external_ref="DMS-77001",
    )
    noise = AppointmentFactory(dealership=dealership, customer__first_name="Bram")
    for query in ("sofie van", "Van den Berg", "77001"):
        body = staff_client.get(LIST, {"q": query}).content.decode()
        assert wanted.vehicle.plate in body, query
        assert noise.vehicle.plate not in body, query


def test_search_stays_in_the_users_dealership(staff_client, dealership):
    elsewhere = AppointmentFactory(dealership=DealershipFactory(), vehicle__plate="9-ZZZ-999")
    assert elsewhere.vehicle.plate not in staff_client.get(LIST, {"q": "9ZZZ999"}).content.decode()


def test_filters_answered_not_answered_and_needs_attention(staff_client, dealership):
    waiting = appointment_today(dealership, hour=8)
    done = appointment_today(dealership, hour=9)
    answered(done, remarks=())
    pinned = appointment_today(dealership, hour=10)
    answered(pinned)
    failed = appointment_today(dealership, hour=11)
    OnlineCheckIn.objects.filter(appointment=failed).update(invitation_status="failed")

    def plates(filter_value):
        body = staff_client.get(LIST, {"filter": filter_value}).content.decode()
        return {a.pk for a in (waiting, done, pinned, failed) if a.vehicle.plate in body}

    assert plates("all") == {waiting.pk, done.pk, pinned.pk, failed.pk}
    assert plates("answered") == {done.pk, pinned.pk}
    assert plates("not_answered") == {waiting.pk, failed.pk}
    assert plates("attention") == {pinned.pk, failed.pk}


def make_day(dealership, count: int) -> None:
    day = timezone.localdate(timezone=dealership.tz)
    for n in range(count):
        appointment = AppointmentFactory(
            dealership=dealership, starts_at=at_local(dealership, day, 7 + n % 12, n % 60)
        )
        if n % 3 == 0:
            answered(appointment)
        elif n % 3 == 1:
            answered(appointment, remarks=())


def make_history(dealership, count: int) -> None:
    """Appointments on other days, long past and weeks ahead; the past ones answered and
    handled, as years of history leave them."""
    today = timezone.localdate(timezone=dealership.tz)
    for n in range(count):
        offset = -(n % 700) - 1 if n % 4 else n % 60 + 1
        appointment = AppointmentFactory(
            dealership=dealership, starts_at=at_local(dealership, today + timedelta(days=offset))
        )
        if offset < 0 and n % 3 == 0:
            for remark in answered(appointment)["remarks"]:
                flow.handle_item(remark, UserFactory(username="history"))


def rows_shown(body: bytes) -> int:
    return len(re.findall(rb"<tr(?: class=\"[^\"]*\")?><td>", body))


def test_the_list_runs_the_same_queries_for_200_appointments_as_for_2(
    staff_client, dealership, django_assert_num_queries
):
    make_day(dealership, 2)
    staff_client.get(LIST)  # the session is warm
    # session, user, memberships, the ids of the day's and the pinned appointments, their
    # rows (the fingerprint's text too), the day's count per visit state
    with django_assert_num_queries(6):
        small = staff_client.get(LIST)
    make_day(dealership, 198)
    make_history(dealership, 40)
    with django_assert_num_queries(6):
        large = staff_client.get(LIST)
    assert rows_shown(large.content) == 200
    assert rows_shown(small.content) == 2


def test_a_day_of_200_rows_stays_under_60_kb(client, receptionist, dealership):
    """A busy day as reception sees it at 11:00: a few answers to handle, a third
    answered, invitations in every state; the morning's cars arrived (a few of them
    ready, one late), a few not come yet, the rest booked with their "Arrived" button."""
    day = timezone.localdate(timezone=dealership.tz)
    statuses = [choice for choice, _label in OnlineCheckIn.InvitationStatus.choices]
    eleven = at_local(dealership, day, 11)
    for n in range(200):
        starts_at = at_local(dealership, day, 7 + n % 11, n % 4 * 15)
        state = {}
        if starts_at < eleven - timedelta(minutes=15) and n % 7:
            state = {"status": "arrived", "arrived_at": starts_at}
            if n % 5 == 0:
                state = {"status": "ready", "arrived_at": starts_at, "ready_at": eleven}
            elif n % 11 == 1:
                state["promised_ready_at"] = eleven - timedelta(hours=1)
        appointment = AppointmentFactory(
            dealership=dealership,
            starts_at=starts_at,
            customer__first_name="Charlotte",
            vehicle__make="Volkswagen",
            vehicle__model="Golf Variant",
            **state,
        )
        if n % 50 == 0:
            answered(appointment)
        elif n % 3 == 0:
            answered(appointment, remarks=())
        OnlineCheckIn.objects.filter(appointment=appointment).update(
            invitation_status=statuses[n % len(statuses)]
        )
    with time_machine.travel(eleven, tick=False):
        # Signed in at 11:00: a session signed in just after midnight ends before then.
        client.force_login(receptionist)
        body = client.get(LIST).content
    assert rows_shown(body) == 200
    assert body.count(b"<button name=a ") > 100  # the booked ones, to mark arrived
    assert b"vs-late" in body
    assert b"vs-waiting" in body
    assert b"vs-ready" in body
    assert len(body) < 60_000


def plan_of(queryset, *, also_off: tuple[str, ...] = ()) -> list[dict]:
    """Every node of PostgreSQL's plan of `queryset`, run. These tables are tiny, and
    PostgreSQL would read them whole; asked not to (no sequential scans, no hash or merge
    joins), it shows the plan a large database gets, if the query allows one."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        for method in ("seqscan", "hashjoin", "mergejoin", *also_off):
            cursor.execute(f"SET LOCAL enable_{method} = off")
    nodes, todo = [], [json.loads(queryset.explain(format="json", analyze=True))[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def appointments_read(nodes: list[dict]) -> int:
    """Rows of workshop_appointment the plan read, kept or thrown away."""
    return sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in nodes
        if node.get("Relation Name") == "workshop_appointment"
    )


@postgresql_only
def test_the_day_reads_what_it_shows_not_the_history(dealership):
    make_day(dealership, 3)  # one of them pinned
    elsewhere = AppointmentFactory(
        dealership=dealership, starts_at=timezone.now() + timedelta(days=9)
    )
    open_remark(elsewhere)
    make_history(dealership, 150)
    listing = AppointmentList(dealership, timezone.localdate(timezone=dealership.tz))
    assert len(listing.values()) == 4
    nodes = plan_of(listing.rows_query().values_list(*COLUMNS, "fingerprint_text"))
    assert appointments_read(nodes) <= 12  # not the 150 of the history
    assert "checkin_item_open_idx" in {node.get("Index Name") for node in nodes}


@postgresql_only
@pytest.mark.parametrize(
    ("search", "indexes"),
    [
        (lambda: Customer.objects.named("sofie van"), {"customer_first_trgm_idx"}),
        (lambda: Customer.objects.named("van den berg"), {"customer_last_trgm_idx"}),
        (lambda: Vehicle.objects.with_plate("1abc04"), {"vehicle_plate_trgm_idx"}),
        (
            lambda: Appointment.objects.filter(external_ref__icontains="77001"),
            {"appointment_ref_trgm_idx"},
        ),
    ],
    ids=["first name", "last name", "plate", "reference"],
)
def test_each_part_of_a_search_is_served_by_its_trigram_index(dealership, search, indexes):
    """What `Appointment.objects.matching` looks for, each part on its own: the
    expression Django writes for the lookup is the one the index holds."""
    AppointmentFactory(
        dealership=dealership,
        customer__first_name="Sofie",
        customer__last_name="Van den Berg",
        external_ref="DMS-77001",
        vehicle__plate="1-ABC-042",
    )
    make_history(dealership, 30)
    assert search().count() == 1
    # Bitmap scans only: a search reads what an index finds, not a whole index in order.
    plan = plan_of(search(), also_off=("indexscan", "indexonlyscan"))
    assert indexes <= {node.get("Index Name") for node in plan}


@postgresql_only
def test_the_search_indexes_keep_no_pending_list():
    """GIN's "fast update" would queue new entries in a pending list that every search
    reads whole until a vacuum (at 1M appointments, most of a search's time: see
    benchmarks/daylist); with it off, a search reads only its trigrams' entries."""
    names = [
        "appointment_ref_trgm_idx",
        "customer_first_trgm_idx",
        "customer_last_trgm_idx",
        "vehicle_plate_trgm_idx",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [names])
        options = dict(cursor.fetchall())
    assert options == {name: ["fastupdate=off"] for name in names}


def refresh_url(body: str) -> str:
    match = re.search(r'id="results"[^>]*hx-get="([^"]+)"', body)
    assert match, "the list polls for changes"
    return match.group(1).replace("&amp;", "&")


def test_polling_answers_204_while_nothing_changed(
    staff_client, dealership, django_assert_num_queries
):
    make_day(dealership, 3)
    url = refresh_url(staff_client.get(LIST).content.decode())
    # session, user, memberships, the list's ids and its fingerprint's text
    with django_assert_num_queries(5):
        response = staff_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.content == b""
    make_day(dealership, 30)
    make_history(dealership, 40)
    url = refresh_url(staff_client.get(LIST).content.decode())
    with django_assert_num_queries(5):
        response = staff_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 204


def test_polling_brings_a_new_answer_in_pinned_without_a_reload(staff_client, dealership):
    quiet = appointment_today(dealership)
    next_week = AppointmentFactory(
        dealership=dealership, starts_at=timezone.now() + timedelta(days=7)
    )
    url = refresh_url(staff_client.get(LIST).content.decode())
    answered(next_week, remarks=(("Warning light", "The orange light is on."),))
    response = staff_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # a partial, swapped in place
    assert next_week.vehicle.plate in rows_of(body, "pinned-heading")
    assert quiet.vehicle.plate in body
    again = staff_client.get(refresh_url(body), headers={"HX-Request": "true"})
    assert again.status_code == 204


def test_polling_notices_an_item_handled_elsewhere(staff_client, dealership):
    appointment = appointment_today(dealership)
    remarks = answered(appointment, remarks=(("One", "1"), ("Two", "2")))["remarks"]
    url = refresh_url(staff_client.get(LIST).content.decode())
    flow.handle_item(remarks[0], UserFactory())
    response = staff_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "1 open item" in response.content.decode()


def test_polling_notices_a_delivery_status(staff_client, dealership):
    appointment = appointment_today(dealership)
    OnlineCheckIn.objects.filter(appointment=appointment).update(invitation_status="sent")
    url = refresh_url(staff_client.get(LIST).content.decode())
    OnlineCheckIn.objects.filter(appointment=appointment).update(invitation_status="failed")
    response = staff_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Failed</em>" in response.content.decode()


def test_a_remark_on_a_past_appointment_still_pins_it(staff_client, dealership):
    past = AppointmentFactory(dealership=dealership, starts_at=timezone.now() - timedelta(days=3))
    open_remark(past)
    body = staff_client.get(LIST).content.decode()
    assert past.vehicle.plate in rows_of(body, "pinned-heading")


def heading_count(block: str) -> int:
    return int(re.search(r'<span class="count">(\d+)</span>', block).group(1))


def test_a_pinned_search_match_is_counted_and_not_contradicted(staff_client, dealership):
    pinned = AppointmentFactory(
        dealership=dealership,
        starts_at=timezone.now() + timedelta(days=4),
        vehicle__plate="1-PIN-001",
    )
    answered(pinned)
    appointment_today(dealership, vehicle__plate="1-OTH-002")
    body = staff_client.get(LIST, {"q": "1PIN001"}).content.decode()
    assert pinned.vehicle.plate in rows_of(body, "pinned-heading")
    results = rows_of(body, "day-heading")
    assert heading_count(results) == 1
    assert "No appointment matches." not in results
    assert "No other appointment matches." in results
    nothing = staff_client.get(LIST, {"q": "no such thing"}).content.decode()
    assert heading_count(rows_of(nothing, "day-heading")) == 0
    assert "No appointment matches." in nothing


def test_a_days_count_includes_that_days_pinned_appointments(staff_client, dealership):
    quiet = appointment_today(dealership, hour=9)
    pinned_today = appointment_today(dealership, hour=11)
    answered(pinned_today)
    pinned_later = AppointmentFactory(
        dealership=dealership, starts_at=timezone.now() + timedelta(days=9)
    )
    answered(pinned_later)
    body = staff_client.get(LIST).content.decode()
    assert heading_count(rows_of(body, "pinned-heading")) == 2
    day = rows_of(body, "day-heading")
    assert heading_count(day) == 2  # the quiet one here, and today's pinned one above
    assert quiet.vehicle.plate in day
    assert "1 above" in day
    on_its_day = staff_client.get(
        LIST, {"day": pinned_later.local_start.date().isoformat()}
    ).content.decode()
    assert heading_count(rows_of(on_its_day, "day-heading")) == 1
    assert "No other appointments on this day." in on_its_day
