"""The DMS import behind the CSV file and the API: upsert by reference, all or nothing."""

import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from integrations.imports import import_appointments, records_from_dicts
from integrations.models import WebhookEvent
from notifications import delivery
from notifications.invitations import dispatch_due_invitations
from notifications.models import Message
from tests.factories import CustomerFactory, DealershipFactory, MembershipFactory, VehicleFactory
from tests.integrations.support import api_item, csv_text, import_csv, row
from workshop.models import Appointment, Customer, OnlineCheckIn, Vehicle, WorkItem

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "dms-appointments.csv"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(local("2026-12-01 10:00"), tick=False) as traveller:
        yield traveller


def writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
    ]


def test_sample_file_books_appointments_with_customers_vehicles_and_work(gent):
    MembershipFactory(dealership=gent, user__username="reception")
    outcome = import_csv(gent, SAMPLE.read_bytes())

    assert outcome.problems == []
    assert outcome.counts == {"new": 3, "changed": 0, "cancelled": 1, "unchanged": 0}
    golf = Appointment.objects.get(dealership=gent, external_ref="WO-270112-01")
    assert golf.starts_at == local("2027-01-12 08:00")
    assert golf.advisor.username == "reception"
    assert [(w.description, w.price, w.origin) for w in golf.work_items.all()] == [
        ("Grote onderhoudsbeurt", Decimal("389.00"), "planned"),
        ("Ruitenwissers vervangen", Decimal("39.50"), "planned"),
    ]
    assert str(golf.customer.phone) == "+32470123456"  # E.164 in the dealership's country
    assert golf.customer.external_ref == "C-10041"
    assert OnlineCheckIn.objects.filter(appointment=golf).exists()
    # One customer and one car for the two appointments of Sofie's Golf.
    assert Customer.objects.filter(dealership=gent, external_ref="C-10041").count() == 1
    assert Vehicle.objects.filter(dealership=gent, vin="WVWZZZ1KZAW000001").count() == 1
    cancelled = Appointment.objects.get(external_ref="WO-270114-01")
    assert cancelled.status == Appointment.Status.CANCELLED


def test_importing_the_same_file_again_writes_nothing_and_emits_nothing(gent):
    MembershipFactory(dealership=gent, user__username="reception")
    import_csv(gent, SAMPLE.read_bytes())
    events = WebhookEvent.objects.count()
    messages = Message.objects.count()  # the booking confirmations of the first import

    with CaptureQueriesContext(connection) as queries:
        outcome = import_csv(gent, SAMPLE.read_bytes())

    assert outcome.counts == {"new": 0, "changed": 0, "cancelled": 0, "unchanged": 4}
    assert writes(queries.captured_queries) == []
    assert WebhookEvent.objects.count() == events
    assert Message.objects.count() == messages


def test_a_file_with_one_bad_line_imports_nothing(gent):
    rows = [row(reference=f"WO-{n}", customer_number=f"C-{n}") for n in range(1, 6)]
    rows[3]["work_price"] = "twelve"

    outcome = import_csv(gent, csv_text(rows))

    assert not outcome.applied
    assert [str(p) for p in outcome.problems] == [
        "Line 5, column work_price: Enter an amount, like 19.95."
    ]
    assert not Appointment.objects.exists()
    assert not Customer.objects.exists()


def test_every_kind_of_error_names_its_line_and_column(gent):
    rows = [
        row(reference="", work_description="", work_price=""),  # line 2
        row(reference="WO-3", starts_at="12/01/2027 8:00"),
        row(reference="WO-4", ends_at="2027-01-12T07:00"),
        row(reference="WO-5", status="maybe"),
        row(reference="WO-6", phone="12345"),
        row(reference="WO-7", email="jan@"),
        row(reference="WO-8", language="tlh"),
        row(reference="WO-9", preferred_channel="pigeon"),
        row(reference="WO-10", vin="SHORT"),
        row(reference="WO-11", year="1850"),
        row(reference="WO-12", mileage="-5"),
        row(reference="WO-13", advisor="nobody"),
        row(reference="WO-14", work_price="1.2.3,4"),
        row(reference="WO-15", work_description="", work_price="10"),
        row(reference="WO-16", plate="", make=""),
        row(reference="WO-17"),
        row(reference="WO-17", customer_name="Someone Else"),
        row(reference="WO-18"),
        row(reference="WO-17"),
    ]
    outcome = import_csv(gent, csv_text(rows))

    got = {(p.line, p.column) for p in outcome.problems}
    assert got == {
        (2, "reference"),
        (3, "starts_at"),
        (4, "ends_at"),
        (5, "status"),
        (6, "phone"),
        (7, "email"),
        (8, "language"),
        (9, "preferred_channel"),
        (10, "vin"),
        (11, "year"),
        (12, "mileage"),
        (13, "advisor"),
        (14, "work_price"),
        (15, "work_description"),
        (16, "plate"),
        (16, "make"),
        (18, "customer_name"),
        (20, "reference"),
    }
    messages = {(p.line, p.column): str(p) for p in outcome.problems}
    assert messages[(6, "phone")].startswith("Line 6, column phone: Enter a valid phone number")
    assert "must follow each other" in messages[(20, "reference")]
    assert "line 17" in messages[(18, "customer_name")]
    assert not Appointment.objects.exists()


def test_errors_are_told_in_the_managers_language(gent):
    with translation.override("nl"):
        outcome = import_csv(gent, csv_text([row(email="jan@")]))
        text = str(outcome.problems[0])
    assert text.startswith("Line 2") or text.startswith("Regel 2")
    assert "e-mailadres" in text  # Django's own Dutch for "Enter a valid email address."


def test_missing_and_unknown_columns_are_named_on_line_one(gent):
    outcome = import_csv(gent, "reference,starts_at,colour\nWO-1,2027-01-12T08:00,red\n")
    columns = {(p.line, p.column) for p in outcome.problems}
    assert (1, "ends_at") in columns
    assert (1, "colour") in columns
    assert not Appointment.objects.exists()


def test_windows_1252_with_semicolons_and_decimal_commas(gent):
    data = csv_text(
        [row(customer_name="Benoît Lefèvre", work_description="Révision", work_price="1.249,90")],
        separator=";",
    ).encode("cp1252")

    outcome = import_csv(gent, data)

    assert outcome.problems == []
    appointment = Appointment.objects.get()
    assert appointment.customer.full_name == "Benoît Lefèvre"
    assert appointment.work_items.get().price == Decimal("1249.90")


def test_utf8_with_bom_and_tabs(gent):
    data = b"\xef\xbb\xbf" + csv_text([row(customer_name="Zoë Öztürk")], separator="\t").encode()
    outcome = import_csv(gent, data)
    assert outcome.problems == []
    assert Appointment.objects.get().customer.full_name == "Zoë Öztürk"


def test_times_with_an_offset_are_kept_and_without_are_local(gent):
    import_csv(
        gent,
        csv_text(
            [
                row(reference="A", starts_at="2027-07-01T08:00", ends_at="2027-07-01T09:00"),
                row(reference="B", starts_at="2027-07-01T08:00Z", ends_at="2027-07-01T09:00Z"),
            ]
        ),
    )
    a, b = Appointment.objects.order_by("external_ref")
    assert a.starts_at == local("2027-07-01 08:00")  # summer time, UTC+2
    assert b.starts_at == datetime.fromisoformat("2027-07-01T08:00+00:00")


def test_planned_work_is_replaced_and_other_work_items_stay(gent):
    import_csv(gent, csv_text([row(), row(work_description="Ruitenwissers", work_price="39,50")]))
    appointment = Appointment.objects.get()
    staff_line = WorkItem.objects.create(
        appointment=appointment,
        description="Bandenspanning",
        price=Decimal("0"),
        vat_rate=Decimal("21"),
        origin=WorkItem.Origin.STAFF,
        position=9,
    )

    outcome = import_csv(gent, csv_text([row(work_description="Kleine beurt", work_price="199")]))

    assert outcome.counts["changed"] == 1
    assert [(w.description, w.origin) for w in appointment.work_items.all()] == [
        ("Kleine beurt", "planned"),
        ("Bandenspanning", "staff"),
    ]
    assert WorkItem.objects.filter(pk=staff_line.pk).exists()


def test_customers_are_found_by_number_then_phone_then_email(gent):
    by_phone = CustomerFactory(dealership=gent, phone="+32470999999", email="", external_ref="")
    by_email = CustomerFactory(dealership=gent, phone="", email="an@example.com", external_ref="")
    numbered = CustomerFactory(dealership=gent, external_ref="C-7", phone="", email="")

    import_csv(
        gent,
        csv_text(
            [
                row(reference="A", customer_number="C-5", phone="0470 99 99 99", email=""),
                row(reference="B", customer_number="", phone="", email="AN@example.com"),
                row(reference="C", customer_number="C-7", phone="0470 11 11 11"),
                row(reference="D", customer_number="C-8", phone="0470 22 22 22", email=""),
            ]
        ),
    )

    refs = dict(Appointment.objects.values_list("external_ref", "customer_id"))
    assert refs["A"] == by_phone.pk
    assert refs["B"] == by_email.pk
    assert refs["C"] == numbered.pk
    assert refs["D"] not in {by_phone.pk, by_email.pk, numbered.pk}
    by_phone.refresh_from_db()
    assert by_phone.external_ref == "C-5"  # adopted the DMS number
    numbered.refresh_from_db()
    assert str(numbered.phone) == "+32470111111"  # an empty phone is filled in


def test_a_phone_the_customer_corrected_is_not_overwritten(gent):
    import_csv(gent, csv_text([row()]))
    customer = Customer.objects.get()
    customer.phone = "+32471000000"
    customer.save()

    outcome = import_csv(gent, csv_text([row()]))

    assert outcome.counts["unchanged"] == 1
    customer.refresh_from_db()
    assert str(customer.phone) == "+32471000000"


def test_vehicles_are_found_by_vin_then_plate(gent):
    by_vin = VehicleFactory(dealership=gent, vin="WVWZZZ1KZAW000001", plate="OLD-1")
    by_plate = VehicleFactory(dealership=gent, vin="", plate="2-XYZ-999")

    import_csv(
        gent,
        csv_text(
            [
                row(reference="A", plate="1-NEW-001"),
                row(reference="B", vin="", plate="2 xyz 999", customer_number="C-2"),
            ]
        ),
    )

    refs = dict(Appointment.objects.values_list("external_ref", "vehicle_id"))
    assert refs == {"A": by_vin.pk, "B": by_plate.pk}
    by_vin.refresh_from_db()
    assert by_vin.plate == "1-NEW-001"


def test_a_cancelled_status_cancels_and_emits_one_event(gent):
    import_csv(gent, csv_text([row()]))

    outcome = import_csv(gent, csv_text([row(status="cancelled")]))
    again = import_csv(gent, csv_text([row(status="cancelled")]))

    assert outcome.counts["cancelled"] == 1
    assert again.counts["unchanged"] == 1
    assert Appointment.objects.get().status == Appointment.Status.CANCELLED
    assert list(WebhookEvent.objects.values_list("name", flat=True)) == ["appointment.cancelled"]


def test_a_moved_appointment_is_invited_again_once_for_its_new_date(gent, december):
    december.move_to(local("2026-12-01 10:00"))
    import_csv(gent, csv_text([row(starts_at="2026-12-03T08:00", ends_at="2026-12-03T09:00")]))
    appointment = Appointment.objects.get()
    (first,) = dispatch_due_invitations()
    delivery.send_message(first.pk)
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.invitation_status == OnlineCheckIn.InvitationStatus.SENT

    moved = row(starts_at="2026-12-15T08:00", ends_at="2026-12-15T09:00")
    assert import_csv(gent, csv_text([moved])).counts["changed"] == 1
    assert import_csv(gent, csv_text([moved])).counts["unchanged"] == 1
    assert list(WebhookEvent.objects.values_list("name", flat=True)) == ["appointment.moved"]

    assert dispatch_due_invitations() == []  # not due yet for the 15th
    december.move_to(local("2026-12-12 09:30"))
    (second,) = dispatch_due_invitations()
    assert dispatch_due_invitations() == []
    delivery.send_message(second.pk)
    second.refresh_from_db()
    assert second.status == Message.Status.SENT
    assert "15" in second.body
    invitations = Message.objects.filter(appointment=appointment, purpose="invitation")
    assert invitations.count() == 2


def test_a_queued_invitation_is_withdrawn_when_the_appointment_moves(gent):
    import_csv(gent, csv_text([row(starts_at="2026-12-03T08:00", ends_at="2026-12-03T09:00")]))
    (queued,) = dispatch_due_invitations()

    import_csv(gent, csv_text([row(starts_at="2026-12-20T08:00", ends_at="2026-12-20T09:00")]))

    queued.refresh_from_db()
    assert queued.status == Message.Status.CANCELLED
    assert delivery.send_message(queued.pk) is None  # the task that was queued sends nothing
    queued.refresh_from_db()
    assert queued.sent_at is None
    checkin = OnlineCheckIn.objects.get()
    assert checkin.invitation_status == OnlineCheckIn.InvitationStatus.NOT_DUE


def test_a_yes_for_the_old_date_does_not_hold_for_the_new_one(gent):
    import_csv(gent, csv_text([row(starts_at="2026-12-03T08:00", ends_at="2026-12-03T09:00")]))
    appointment = Appointment.objects.get()
    Appointment.objects.filter(pk=appointment.pk).update(
        confirmation=Appointment.Confirmation.CONFIRMED, confirmation_at=appointment.created_at
    )
    OnlineCheckIn.objects.filter(appointment=appointment).update(
        confirmation_asked_at=appointment.created_at
    )

    import_csv(gent, csv_text([row(starts_at="2026-12-20T08:00", ends_at="2026-12-20T09:00")]))

    appointment.refresh_from_db()
    assert appointment.confirmation == Appointment.Confirmation.NO_ANSWER
    assert appointment.confirmation_at is None
    assert OnlineCheckIn.objects.get().confirmation_asked_at is None  # asked again, once


def test_the_dry_run_reports_and_writes_nothing(gent):
    import_csv(gent, csv_text([row(reference="KEEP")]))

    outcome = import_csv(
        gent,
        csv_text(
            [
                row(reference="KEEP"),
                row(reference="NEW", customer_number="C-9"),
                row(reference="KEEP2", customer_number="C-1"),
            ]
        ),
        dry_run=True,
    )

    assert outcome.counts == {"new": 2, "changed": 0, "cancelled": 0, "unchanged": 1}
    assert not outcome.applied
    assert list(Appointment.objects.values_list("external_ref", flat=True)) == ["KEEP"]


def test_api_items_go_through_the_same_rules(gent):
    outcome = import_appointments(
        gent, records_from_dicts([api_item(), api_item(reference="WO-2", phone="12")])
    )
    assert [(p.line, p.column) for p in outcome.problems] == [(2, "phone")]
    assert not Appointment.objects.exists()


def test_the_command_imports_and_says_so(gent, capsys):
    MembershipFactory(dealership=gent, user__username="reception")
    call_command("import_appointments", "gent", str(SAMPLE), "--language", "en")
    assert "3 new, 0 changed, 1 cancelled, 0 unchanged" in capsys.readouterr().out


def test_the_command_refuses_a_bad_file_and_lists_the_lines(gent, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text([row(), row(reference="WO-2", starts_at="tomorrow")]))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_appointments", "gent", str(bad), "--language", "en")
    assert "Line 3, column starts_at" in capsys.readouterr().err
    assert not Appointment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_overlapping_imports_at_the_same_time_create_everything_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time anyway")
    gent = DealershipFactory(slug="gent-parallel", country="BE")
    first = csv_text([row(reference=f"WO-{n}", customer_number=f"C-{n % 7}") for n in range(60)])
    second = csv_text(
        [row(reference=f"WO-{n}", customer_number=f"C-{n % 7}") for n in range(30, 90)]
    )
    outcomes = []
    barrier = threading.Barrier(2)

    def run(data: str) -> None:
        try:
            barrier.wait()
            outcomes.append(import_csv(gent, data))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(data,)) for data in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(o.applied and not o.problems for o in outcomes)
    assert sum(o.counts["new"] for o in outcomes) == 90
    assert sorted(o.counts["unchanged"] for o in outcomes) == [0, 30]
    assert Appointment.objects.filter(dealership=gent).count() == 90
    assert Customer.objects.filter(dealership=gent).count() == 7
    assert Vehicle.objects.filter(dealership=gent).count() == 1


def test_a_changed_customer_car_or_advisor_updates_the_appointment(gent):
    advisor = MembershipFactory(dealership=gent, user__username="piet").user
    import_csv(gent, csv_text([row()]))
    appointment = Appointment.objects.get()

    outcome = import_csv(
        gent,
        csv_text(
            [
                row(
                    customer_number="C-2",
                    customer_name="An Janssens",
                    phone="0471 00 00 00",
                    email="an@example.com",
                    vin="WVWZZZ1KZAW000002",
                    plate="2-NEW-002",
                    advisor="PIET",
                )
            ]
        ),
    )

    assert outcome.counts["changed"] == 1
    appointment.refresh_from_db()
    assert appointment.customer.full_name == "An Janssens"
    assert appointment.vehicle.plate == "2-NEW-002"
    assert appointment.advisor == advisor
    assert Customer.objects.count() == 2
