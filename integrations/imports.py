"""Appointments in from the DMS: one upsert behind the CSV file and the API.

`import_appointments(dealership, records)` takes appointments as the DMS sends them
(`Record`: the appointment's fields as text, and its planned work lines), validates
each with the UI's own form fields, and upserts them by the DMS reference:

- new reference: booked (`workshop.booking.book_appointment`);
- time changed: moved (`workshop.visit.move`: invited again for the new date, once);
- status cancelled: cancelled (`workshop.visit.cancel`: nothing more is sent);
- customer, vehicle, advisor or planned work changed: updated; planned work items are
  replaced as the DMS sends them, work items staff or customers added stay;
- the same data again: nothing written, no event, nothing sent.

Customers are found by the DMS customer number, else (among customers without one) by
phone, else by e-mail; vehicles by VIN, else by plate however it is typed. A customer's
name and language follow the DMS; their phone, e-mail and preferred channel only fill
what is empty, since the customer may have corrected them on the check-in page.

All or nothing: the whole file or batch runs in one transaction, rolled back if any
record has a problem (every problem is reported, not only the first). Imports into one
dealership take turns (its row is locked), so overlapping files and a retried batch
never create an appointment, a customer or a vehicle twice.

Records are read a chunk at a time with a fixed number of queries per chunk, so the
cost follows the file and memory stays flat whatever its size.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import islice

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from workshop import booking, visit
from workshop.booking import PlannedWork
from workshop.forms import MoneyField
from workshop.models import (
    PLATE_KEY,
    Appointment,
    Channel,
    Customer,
    Dealership,
    Membership,
    Vehicle,
    WorkItem,
    normalised_plate,
)

APPOINTMENT_COLUMNS = (
    "reference",
    "starts_at",
    "ends_at",
    "status",
    "customer_number",
    "customer_name",
    "phone",
    "email",
    "language",
    "preferred_channel",
    "plate",
    "vin",
    "make",
    "model",
    "year",
    "mileage",
    "advisor",
)
WORK_COLUMNS = ("work_description", "work_notes", "work_price")
COLUMNS = APPOINTMENT_COLUMNS + WORK_COLUMNS
REQUIRED = ("reference", "starts_at", "ends_at", "customer_name", "plate", "make", "model")

CHUNK_SIZE = 500
# Per stored row (by pk): the fields an import changed, to write only those.
Changed = defaultdict[int, set[str]]
MAX_PROBLEMS = 200
MAX_EXAMPLES = 20

STATUSES = {
    "": Appointment.Status.SCHEDULED,
    "scheduled": Appointment.Status.SCHEDULED,
    "booked": Appointment.Status.SCHEDULED,
    "cancelled": Appointment.Status.CANCELLED,
    "canceled": Appointment.Status.CANCELLED,
}
CHANNELS = {"sms": Channel.SMS, "email": Channel.EMAIL, "e-mail": Channel.EMAIL}
VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be imported: where (a CSV line, or an API batch's item) and
    in which column or field. `message` is translated when shown."""

    line: int
    column: str
    message: str | Promise

    def __str__(self) -> str:
        return str(
            _("Line %(line)s, column %(column)s: %(message)s")
            % {"line": self.line, "column": self.column, "message": self.message}
        )


@dataclass
class WorkLine:
    line: int
    description: str = ""
    notes: str = ""
    price: str = ""


@dataclass
class Record:
    """One appointment as the DMS sends it: its fields as text, keyed by column name,
    with the line (or item number) each work line came from."""

    line: int
    values: dict[str, str]
    work: list[WorkLine] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.values.get("reference", "").strip()


@dataclass
class Parsed:
    line: int
    reference: str
    starts_at: datetime
    ends_at: datetime
    status: str
    customer_number: str
    first_name: str
    last_name: str
    phone: object
    email: str
    language: str
    preferred_channel: str
    plate: str
    vin: str
    make: str
    model: str
    year: int | None
    mileage: int | None
    advisor_id: int | None
    work: list[PlannedWork]


@dataclass
class Outcome:
    """What an import did (or, dry or refused, would have done): counts per kind, with
    the first few references of each for the preview."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"new": 0, "changed": 0, "cancelled": 0, "unchanged": 0}
    )
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    problems: list[Problem] = field(default_factory=list)
    more_problems: bool = False
    applied: bool = False

    def note(self, kind: str, reference: str) -> None:
        self.counts[kind] += 1
        if len(self.examples[kind]) < MAX_EXAMPLES:
            self.examples[kind].append(reference)

    @property
    def new(self) -> int:
        return self.counts["new"]

    @property
    def changed(self) -> int:
        return self.counts["changed"]

    @property
    def cancelled(self) -> int:
        return self.counts["cancelled"]

    @property
    def unchanged(self) -> int:
        return self.counts["unchanged"]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def problem(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems = True


class _Refused(Exception):
    """Rolls the import's transaction back."""


# --- Reading one record, with the UI's rules ---------------------------------------------


def split_name(name: str) -> tuple[str, str]:
    """ "Peeters, Jan" or "Jan Peeters" into first and last name."""
    name = " ".join(name.split())
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return first, last
    first, _space, last = name.partition(" ")
    return (first, last) if last else ("", first)


def parse_time(text: str, dealership: Dealership) -> datetime:
    """ISO 8601; without an offset, the time is the dealership's local time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValidationError(
            _("Enter a date and time like 2026-03-14T08:30 (ISO 8601).")
        ) from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=dealership.tz)
    return value


class _Reader:
    """Reads records for one dealership: the form fields and staff built once."""

    def __init__(self, dealership: Dealership) -> None:
        self.dealership = dealership
        self.phone_field = PhoneNumberField(region=dealership.country, required=False)
        self.email_field = forms.EmailField(required=False, max_length=254)
        self.money_field = MoneyField(required=False)
        self.languages = {code for code, _name in settings.LANGUAGES}
        self.this_year = date.today().year
        self.advisors: dict[str, int] = {}
        for user_id, username, email in Membership.objects.filter(
            dealership=dealership
        ).values_list("user_id", "user__username", "user__email"):
            self.advisors[username.casefold()] = user_id
            if email:
                self.advisors.setdefault(email.casefold(), user_id)

    def parse(self, record: Record, outcome: Outcome) -> Parsed | None:
        values = {name: (record.values.get(name) or "").strip() for name in APPOINTMENT_COLUMNS}
        problems: list[Problem] = []

        def problem(column: str, message: str | Promise, line: int = record.line) -> None:
            problems.append(Problem(line, column, message))

        for name in REQUIRED:
            if not values[name]:
                problem(name, _("This column is required."))
        limits = {"reference": 64, "customer_number": 64, "make": 50, "model": 80, "plate": 20}
        for name, limit in limits.items():
            if len(values[name]) > limit:
                problem(name, _("At most %(limit)s characters.") % {"limit": limit})

        starts_at = ends_at = None
        for name in ("starts_at", "ends_at"):
            if values[name]:
                try:
                    parsed = parse_time(values[name], self.dealership)
                except ValidationError as error:
                    problem(name, error.messages[0])
                else:
                    if name == "starts_at":
                        starts_at = parsed
                    else:
                        ends_at = parsed
        if starts_at and ends_at and ends_at <= starts_at:
            problem("ends_at", _("The end must come after the start."))

        status = STATUSES.get(values["status"].casefold())
        if status is None:
            problem("status", _("Use scheduled or cancelled."))

        first_name, last_name = split_name(values["customer_name"])
        if len(first_name) > 100 or len(last_name) > 100:
            problem("customer_name", _("At most %(limit)s characters.") % {"limit": 100})

        phone = email = None
        try:
            phone = self.phone_field.clean(values["phone"])
        except ValidationError as error:
            problem("phone", error.messages[0])
        try:
            email = self.email_field.clean(values["email"])
        except ValidationError as error:
            problem("email", error.messages[0])

        language = values["language"].casefold().replace("_", "-")
        if language and language not in self.languages:
            language = language.split("-")[0]
        if not language:
            language = self.dealership.language
        if language not in self.languages:
            problem(
                "language",
                _("Use one of: %(choices)s.") % {"choices": ", ".join(sorted(self.languages))},
            )

        channel_text = values["preferred_channel"].casefold()
        channel = CHANNELS.get(channel_text) if channel_text else None
        if channel_text and channel is None:
            problem("preferred_channel", _("Use sms or email."))
        if channel is None:
            channel = Channel.SMS if phone or not email else Channel.EMAIL

        vin = values["vin"].upper().replace(" ", "")
        if vin and not VIN_PATTERN.fullmatch(vin):
            problem("vin", _("A VIN has 17 letters and digits (no I, O or Q)."))

        numbers: dict[str, int | None] = {"year": None, "mileage": None}
        for name, low, high in (("year", 1900, self.this_year + 1), ("mileage", 0, 2_000_000)):
            text = values[name].replace(" ", "").replace(".", "").replace(",", "")
            if not text:
                continue
            if not text.isdigit() or not low <= int(text) <= high:
                problem(
                    name,
                    _("Enter a whole number from %(low)s to %(high)s.")
                    % {"low": low, "high": high},
                )
            else:
                numbers[name] = int(text)

        advisor_id = None
        if values["advisor"]:
            advisor_id = self.advisors.get(values["advisor"].casefold())
            if advisor_id is None:
                problem(
                    "advisor",
                    _("No staff member of this dealership has this user name or e-mail address."),
                )

        work = []
        for line in record.work:
            description, notes = line.description.strip(), line.notes.strip()
            if not description:
                if notes or line.price.strip():
                    problem("work_description", _("This column is required."), line.line)
                continue
            if len(description) > 200:
                problem(
                    "work_description",
                    _("At most %(limit)s characters.") % {"limit": 200},
                    line.line,
                )
            try:
                price = self.money_field.clean(line.price)
            except ValidationError as error:
                problem("work_price", error.messages[0], line.line)
                continue
            work.append(
                PlannedWork(description=description, notes=notes, price=price or Decimal("0.00"))
            )

        for each in problems:
            outcome.problem(each)
        if problems:
            return None
        assert starts_at is not None
        assert ends_at is not None
        assert status is not None
        return Parsed(
            line=record.line,
            reference=values["reference"],
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
            customer_number=values["customer_number"],
            first_name=first_name,
            last_name=last_name,
            phone=phone or "",
            email=email or "",
            language=language,
            preferred_channel=channel,
            plate=values["plate"],
            vin=vin,
            make=values["make"],
            model=values["model"],
            year=numbers["year"],
            mileage=numbers["mileage"],
            advisor_id=advisor_id,
            work=work,
        )


# --- The upsert ---------------------------------------------------------------------


def import_appointments(
    dealership: Dealership,
    records: Iterable[Record],
    *,
    dry_run: bool = False,
    outcome: Outcome | None = None,
) -> Outcome:
    """Upserts `records` into `dealership`, all or nothing; see the module's text.

    `dry_run`: reports what would change and writes nothing (the preview). `outcome`:
    where the reader of `records` reports problems of its own (a CSV's bad lines)."""
    outcome = outcome or Outcome()
    try:
        with transaction.atomic():
            # Imports into one dealership take turns; FOR NO KEY UPDATE leaves bookings,
            # which only reference the row, free to go on.
            Dealership.objects.select_for_update(no_key=True).filter(pk=dealership.pk).first()
            reader = _Reader(dealership)
            seen: dict[str, int] = {}
            iterator = iter(records)
            while chunk := list(islice(iterator, CHUNK_SIZE)):
                parsed = []
                for record in chunk:
                    item = reader.parse(record, outcome)
                    if item is None:
                        continue
                    if item.reference in seen:
                        message = _(
                            "This reference was already given on line %(line)s: the lines of "
                            "an appointment must follow each other."
                        ) % {"line": seen[item.reference]}
                        outcome.problem(Problem(item.line, "reference", message))
                        continue
                    seen[item.reference] = item.line
                    parsed.append(item)
                if not outcome.problems:
                    _Chunk(dealership, parsed, outcome, dry_run=dry_run).apply()
            if outcome.problems or dry_run:
                raise _Refused
            outcome.applied = True
    except _Refused:
        pass
    return outcome


class _Chunk:
    """Up to CHUNK_SIZE records: what exists read in a fixed number of queries."""

    def __init__(
        self, dealership: Dealership, records: list[Parsed], outcome: Outcome, *, dry_run: bool
    ) -> None:
        self.dealership = dealership
        self.records = records
        self.outcome = outcome
        # A dry run compares and counts without writing: its cost is per chunk too.
        self.dry_run = dry_run

    def apply(self) -> None:
        if not self.records:
            return
        customers = self._customers()
        vehicles = self._vehicles()
        existing = {
            a.external_ref: a
            for a in Appointment.objects.filter(
                dealership=self.dealership, external_ref__in=[r.reference for r in self.records]
            ).select_related("dealership")
        }
        planned: dict[int, list[tuple[str, str, Decimal]]] = defaultdict(list)
        for appointment_id, description, notes, price in (
            WorkItem.objects.filter(
                appointment__in=list(existing.values()), origin=WorkItem.Origin.PLANNED
            )
            .order_by("appointment_id", "position", "pk")
            .values_list("appointment_id", "description", "notes", "price")
        ):
            planned[appointment_id].append((description, notes, price))
        bookings: list[booking.Booking] = []
        for record in self.records:
            customer, vehicle = customers[record.reference], vehicles[record.reference]
            appointment = existing.get(record.reference)
            if appointment is None:
                bookings.append(
                    booking.Booking(
                        dealership=self.dealership,
                        customer=customer,
                        vehicle=vehicle,
                        starts_at=record.starts_at,
                        ends_at=record.ends_at,
                        external_ref=record.reference,
                        planned_work=record.work,
                        fields={"status": record.status, "advisor_id": record.advisor_id},
                    )
                )
                cancelled = record.status == Appointment.Status.CANCELLED
                self.outcome.note("cancelled" if cancelled else "new", record.reference)
                continue
            self._update(appointment, record, customer, vehicle, planned[appointment.pk])
        if bookings and not self.dry_run:
            booking.book_appointments(bookings)

    def _update(
        self,
        appointment: Appointment,
        record: Parsed,
        customer: Customer,
        vehicle: Vehicle,
        planned: list[tuple[str, str, Decimal]],
    ) -> None:
        fields: dict[str, object] = {
            "customer_id": customer.pk,
            "vehicle_id": vehicle.pk,
            "advisor_id": record.advisor_id,
        }
        if (
            appointment.status == Appointment.Status.CANCELLED
            and record.status == Appointment.Status.SCHEDULED
        ):
            # Booked again: no longer cancelled, by anyone, for any reason.
            fields.update(
                status=Appointment.Status.SCHEDULED,
                cancelled_at=None,
                cancelled_by="",
                cancel_reason="",
            )
        booked_again = "status" in fields
        fields = {k: v for k, v in fields.items() if getattr(appointment, k) != v}
        moved = (appointment.starts_at, appointment.ends_at) != (record.starts_at, record.ends_at)
        work = [(w.description, w.notes, w.price) for w in record.work] != planned
        cancel = (
            record.status == Appointment.Status.CANCELLED
            and appointment.status == Appointment.Status.SCHEDULED
        )
        changed = (
            bool(fields)
            or moved
            or work
            or customer.pk in self.touched_customers
            or vehicle.pk in self.touched_vehicles
        )
        if not self.dry_run:
            if fields:
                booking.update_appointment(appointment, **fields)
            if moved:
                visit.move(appointment, starts_at=record.starts_at, ends_at=record.ends_at)
            if work:
                booking.replace_planned_work(appointment, record.work)
            if booked_again:
                # They were told it was cancelled: now they hear it is booked (at the
                # time it has now; a move's message still queued gives way to it).
                visit.tell_booked_again(appointment)
            if cancel:
                cancel = visit.cancel(appointment, by=Appointment.CancelledBy.DMS)
        if cancel:
            self.outcome.note("cancelled", record.reference)
        elif changed:
            self.outcome.note("changed", record.reference)
        else:
            self.outcome.note("unchanged", record.reference)

    # Customers and vehicles: found, updated or created for the whole chunk at once.

    def _customers(self) -> dict[str, Customer]:
        records = self.records
        numbers = {r.customer_number for r in records if r.customer_number}
        phones = {str(r.phone) for r in records if r.phone}
        emails = {r.email.casefold() for r in records if r.email}
        found = Customer.objects.filter(dealership=self.dealership).filter(
            Q(external_ref__in=numbers)
            | Q(external_ref="", phone__in=phones)
            | Q(external_ref="", email__in=emails)
        )
        by_number: dict[str, Customer] = {}
        by_phone: dict[str, Customer] = {}
        by_email: dict[str, Customer] = {}
        for known in sorted(found, key=lambda c: c.pk):
            if known.external_ref:
                by_number[known.external_ref] = known
            else:
                if known.phone:
                    by_phone.setdefault(str(known.phone), known)
                if known.email:
                    by_email.setdefault(known.email.casefold(), known)
        chosen: dict[str, Customer] = {}
        new: list[Customer] = []
        dirty: Changed = defaultdict(set)
        for record in records:
            customer: Customer | None = (
                by_number.get(record.customer_number) if record.customer_number else None
            )
            if customer is None:
                if record.phone:
                    customer = by_phone.get(str(record.phone))
                if customer is None and record.email:
                    customer = by_email.get(record.email.casefold())
                if customer is not None and customer.external_ref and record.customer_number:
                    customer = None  # taken by another number meanwhile
            if customer is None:
                customer = Customer(
                    dealership=self.dealership,
                    external_ref=record.customer_number,
                    first_name=record.first_name,
                    last_name=record.last_name,
                    phone=record.phone,
                    email=record.email,
                    language=record.language,
                    preferred_channel=record.preferred_channel,
                )
                new.append(customer)
            else:
                changes: dict[str, object] = {
                    "first_name": record.first_name,
                    "last_name": record.last_name,
                    "language": record.language,
                }
                if record.customer_number:
                    changes["external_ref"] = record.customer_number
                # The customer may have corrected these on the check-in page: fill only.
                if record.phone and not customer.phone:
                    changes["phone"] = record.phone
                if record.email and not customer.email:
                    changes["email"] = record.email
                _apply(customer, changes, dirty)
            chosen[record.reference] = customer
            if customer.external_ref:
                by_number[customer.external_ref] = customer
            if not customer.external_ref:
                if customer.phone:
                    by_phone.setdefault(str(customer.phone), customer)
                if customer.email:
                    by_email.setdefault(customer.email.casefold(), customer)
        self.touched_customers = set(dirty)
        if not self.dry_run:
            Customer.objects.bulk_create(new)
            _save_changed(chosen.values(), dirty)
        return chosen

    def _vehicles(self) -> dict[str, Vehicle]:
        records = self.records
        vins = {r.vin for r in records if r.vin}
        plates = {normalised_plate(r.plate) for r in records}
        found: list[Vehicle] = list(
            Vehicle.objects.filter(dealership=self.dealership)
            .annotate(plate_key=PLATE_KEY)
            .filter(Q(vin__in=vins) | Q(plate_key__in=plates))
        )
        by_vin: dict[str, Vehicle] = {}
        by_plate: dict[str, Vehicle] = {}
        for car in sorted(found, key=lambda v: v.pk):
            if car.vin:
                by_vin.setdefault(car.vin, car)
            by_plate.setdefault(normalised_plate(car.plate), car)
        chosen: dict[str, Vehicle] = {}
        new: list[Vehicle] = []
        dirty: Changed = defaultdict(set)
        for record in records:
            vehicle: Vehicle | None = by_vin.get(record.vin) if record.vin else None
            if vehicle is None:
                vehicle = by_plate.get(normalised_plate(record.plate))
                if vehicle is not None and vehicle.vin and record.vin and vehicle.vin != record.vin:
                    vehicle = None  # another car that once had this plate
            if vehicle is None:
                vehicle = Vehicle(
                    dealership=self.dealership,
                    plate=record.plate,
                    vin=record.vin,
                    make=record.make,
                    model=record.model,
                    year=record.year,
                    mileage_km=record.mileage,
                )
                new.append(vehicle)
            else:
                changes: dict[str, object] = {
                    "plate": record.plate,
                    "make": record.make,
                    "model": record.model,
                }
                if record.vin:
                    changes["vin"] = record.vin
                if record.year is not None:
                    changes["year"] = record.year
                if record.mileage is not None:
                    changes["mileage_km"] = record.mileage
                _apply(vehicle, changes, dirty)
            chosen[record.reference] = vehicle
            if vehicle.vin:
                by_vin.setdefault(vehicle.vin, vehicle)
            by_plate.setdefault(normalised_plate(vehicle.plate), vehicle)
        self.touched_vehicles = set(dirty)
        if not self.dry_run:
            Vehicle.objects.bulk_create(new)
            _save_changed(chosen.values(), dirty)
        return chosen


def _apply(row: Customer | Vehicle, changes: dict[str, object], dirty: Changed) -> None:
    """Sets what differs; for a row already stored, notes which fields to write."""
    for name, value in changes.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            if row.pk:
                dirty[row.pk].add(name)


def _save_changed(rows: Iterable[Customer | Vehicle], dirty: Changed) -> None:
    """Each stored row that changed, once, with only its changed fields."""
    for row in {row.pk: row for row in rows if row.pk in dirty}.values():
        row.save(update_fields=sorted(dirty[row.pk]))


def records_from_dicts(items: Iterable[dict]) -> Iterator[Record]:
    """API items (numbered from 1) as records: the appointment's fields, its work lines."""
    for number, item in enumerate(items, start=1):
        values = {
            name: "" if item.get(name) is None else str(item[name]) for name in APPOINTMENT_COLUMNS
        }
        work = [
            WorkLine(
                line=number,
                description=str(line.get("description") or ""),
                notes=str(line.get("notes") or ""),
                price="" if line.get("price") is None else str(line["price"]),
            )
            for line in item.get("work") or []
        ]
        yield Record(line=number, values=values, work=work)
