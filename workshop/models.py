"""The dealership's domain: who, what car, when, what work, and what the customer sent in."""

import posixpath
import secrets
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.backends.ddl_references import Statement
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Replace, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber

LANGUAGE_CHOICES = [(code, name) for code, name in settings.LANGUAGES]


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Dealership(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("short name"), unique=True)
    street = models.CharField(_("street and number"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(
        _("country"),
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter country code, like BE."))],
        help_text=_("Two-letter ISO code; also the default region for phone numbers."),
    )
    phone = PhoneNumberField(_("phone"))
    email = models.EmailField(_("e-mail"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Brussels", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("default language"), max_length=8, choices=LANGUAGE_CHOICES, default="en"
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="EUR",
        validators=[
            RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter currency code, like EUR."))
        ],
    )
    vat_rate = models.DecimalField(
        _("VAT rate (%)"), max_digits=5, decimal_places=2, default=Decimal("21.00")
    )
    brand_colour = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#1d4ed8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1d4ed8."))],
    )
    logo = models.ImageField(_("logo"), upload_to="dealerships/", blank=True)
    invitation_lead_days = models.PositiveSmallIntegerField(
        _("invite this many days ahead"), default=3, validators=[MinValueValidator(1)]
    )
    sending_starts = models.TimeField(_("send messages from"), default=time(9, 0))
    sending_ends = models.TimeField(_("send messages until"), default=time(19, 0))
    sending_days = models.CharField(
        _("days messages are sent"),
        max_length=7,
        default="123456",
        validators=[RegexValidator(r"^[1-7]{1,7}$", _("List ISO weekdays, 1 = Monday."))],
        help_text=_("ISO weekday numbers, 1 = Monday … 7 = Sunday."),
    )
    reminders_enabled = models.BooleanField(
        _("send a reminder when the link was not opened"), default=True
    )
    confirmation_request_days = models.PositiveSmallIntegerField(
        _("ask customers to confirm this many days ahead"),
        default=1,
        help_text=_(
            "A short message asks the customer to reply YES or NO, on the morning this "
            "many days before the appointment; 0 asks nothing."
        ),
    )
    booking_url = models.URLField(
        _("booking page"),
        blank=True,
        help_text=_("Where customers book another date; named when a customer declines."),
    )
    # The visit (`workshop.visit`): cancelling, lateness, collection and the review.
    free_cancellation_hours = models.PositiveSmallIntegerField(
        _("customers may cancel up to this many hours before"),
        default=24,
        help_text=_("After that the check-in page asks them to call."),
    )
    late_after_minutes = models.PositiveSmallIntegerField(
        _("late after (minutes)"),
        default=15,
        help_text=_("A car not arrived this many minutes after its start shows as late."),
    )
    opening_hours = models.TextField(
        _("opening hours for collection"),
        blank=True,
        help_text=_("Told to customers when their car is ready, e.g. Mon-Fri 7:30-18:00."),
    )
    review_delay_hours = models.PositiveSmallIntegerField(
        _("ask for a review this many hours after collection"), default=2
    )
    review_url = models.URLField(
        _("review page"),
        blank=True,
        help_text=_("Your own review page; empty: customers rate the visit behind their link."),
    )
    # The day (local) the staff's morning summary went out: claimed by a conditional UPDATE.
    summary_sent_on = models.DateField(_("morning summary sent on"), null=True, blank=True)
    sms_number = PhoneNumberField(
        _("own SMS number"),
        blank=True,
        help_text=_(
            "Replies sent to this number belong to this dealership only; "
            "leave empty when the group shares one number."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("dealership")
        verbose_name_plural = _("dealerships")
        constraints = [
            models.CheckConstraint(
                condition=Q(sending_starts__lt=models.F("sending_ends")),
                name="dealership_sending_window_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100), name="dealership_vat_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def logo_file_name(self) -> str:
        return posixpath.basename(self.logo.name or "")

    @property
    def logo_url(self) -> str:
        """The logo's public, lasting address (a view, as media are private); '' for none."""
        if not self.logo:
            return ""
        return reverse("portal:logo", args=[self.slug, self.logo_file_name])

    @property
    def address(self) -> str:
        return f"{self.street}, {self.postal_code} {self.city}"

    def sends_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.sending_days

    def in_sending_hours(self, now: datetime) -> bool:
        """Inside the sending hours, on one of the sending days, locally."""
        local = now.astimezone(self.tz)
        return (
            self.sends_on(local.date())
            and self.sending_starts <= local.time().replace(tzinfo=None) < self.sending_ends
        )

    def local_day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The instants at which `day` starts and ends in the dealership's time zone.

        The one place a dealership's day is worked out: `Appointment.objects.for_day`,
        the list and the invitation schedule use it."""
        start = datetime.combine(day, time.min, tzinfo=self.tz)
        return start, start + timedelta(days=1)


class Role(models.TextChoices):
    RECEPTIONIST = "receptionist", _("Receptionist")
    MECHANIC = "mechanic", _("Mechanic")
    MANAGER = "manager", _("Manager")


class Membership(models.Model):
    """A staff user's place in one dealership, and what they may do there."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("dealership"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # The advisor of an appointment hears by e-mail when its customer writes.
    email_on_customer_message = models.BooleanField(
        _("e-mail me when a customer of mine writes"), default=False
    )
    # The morning summary e-mail (`workshop.summary`): today's appointments, open items.
    morning_summary = models.BooleanField(
        _("e-mail me a summary every morning"),
        default=False,
        help_text=_("Today's appointments, what waits to be handled, unconfirmed and declined."),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "dealership"], name="membership_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.dealership} ({self.get_role_display()})"


def normalised_plate(text: str) -> str:
    """Plates are typed with or without dashes, dots and spaces: compare without them."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class TrigramIndex(GinIndex):
    """A trigram index (pg_trgm) on PostgreSQL, and no index at all elsewhere.

    SQLite has no trigram index (its search scans), but it rebuilds a table with every
    index the model declares when a later migration changes the table: there this
    index writes an empty statement instead of a PostgreSQL one."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return Statement("")
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return Statement("")
        return super().remove_sql(model, schema_editor, **kwargs)


def trigram_index(expression, name: str) -> TrigramIndex:
    """Serves `icontains` on `expression`, which Django writes as UPPER(...) LIKE ...,
    so the expression indexed is UPPER(...) too.

    Without GIN's "fast update": every search would also read the index's pending list
    of recent inserts (up to 4 MB, flushed only by a vacuum), whatever the text; with it
    off, an insert writes into the index at once and a search reads only the entries of
    its trigrams, so its cost does not follow how many rows came in lately."""
    return TrigramIndex(OpClass(expression, name="gin_trgm_ops"), name=name, fastupdate=False)


class CustomerQuerySet(models.QuerySet["Customer"]):
    def named(self, text: str):
        """Customers whose first or last name holds every word of `text`."""
        people = self.order_by()
        for word in text.split():
            people = people.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
        return people


class Customer(models.Model):
    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="customers", verbose_name=_("dealership")
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("mobile phone"), blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=8, choices=Channel.choices, default=Channel.SMS
    )
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    # The DMS's customer number: how an import finds the customer again.
    external_ref = models.CharField(_("DMS customer number"), max_length=64, blank=True)
    # Set when the customer replied STOP to an SMS; no SMS goes out while set.
    sms_opted_out_at = models.DateTimeField(_("opted out of SMS at"), null=True, blank=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            # The list's search: any part of a customer's first or last name.
            trigram_index(Upper("first_name"), "customer_first_trgm_idx"),
            trigram_index(Upper("last_name"), "customer_last_trgm_idx"),
        ]
        constraints = [
            # The DMS import matches customers by their number first.
            models.UniqueConstraint(
                fields=["dealership", "external_ref"],
                condition=~Q(external_ref=""),
                name="customer_external_ref_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def phone_e164(self) -> str:
        """The mobile number as +E.164 (as an SMS goes to it); '' without one."""
        return self.phone.as_e164 if isinstance(self.phone, PhoneNumber) else ""

    def can_receive(self, channel: str) -> bool:
        if channel == Channel.SMS:
            # A number, not `bool(self.phone)`: that checks it against the numbering
            # plan every time, a cost that shows when thousands of messages are written.
            return isinstance(self.phone, PhoneNumber) and self.sms_opted_out_at is None
        return bool(self.email)

    def channels_to_try(self) -> list[str]:
        """Channels to reach the customer by, preferred first, skipping unusable ones."""
        other = Channel.EMAIL if self.preferred_channel == Channel.SMS else Channel.SMS
        return [c for c in (self.preferred_channel, other) if self.can_receive(c)]


# A vehicle's plate as search compares it (`normalised_plate`): the index and the query.
PLATE_KEY = Upper(
    Replace(
        Replace(Replace("plate", Value("-"), Value("")), Value(" "), Value("")),
        Value("."),
        Value(""),
    )
)


class VehicleQuerySet(models.QuerySet["Vehicle"]):
    def with_plate(self, text: str):
        """Vehicles whose plate holds `text`, both without dashes, dots and spaces."""
        return self.annotate(plate_key=PLATE_KEY).filter(plate_key__contains=normalised_plate(text))


class Vehicle(models.Model):
    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="vehicles", verbose_name=_("dealership")
    )
    plate = models.CharField(_("licence plate"), max_length=20)
    vin = models.CharField(_("VIN"), max_length=17, blank=True)
    make = models.CharField(_("make"), max_length=50)
    model = models.CharField(_("model"), max_length=80)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    mileage_km = models.PositiveIntegerField(_("mileage (km)"), null=True, blank=True)

    objects = VehicleQuerySet.as_manager()

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        indexes = [
            # Staff search by plate within a dealership.
            models.Index(fields=["dealership", "plate"], name="vehicle_plate_idx"),
            # The list's search: any part of a plate, however it was typed.
            trigram_index(PLATE_KEY, "vehicle_plate_trgm_idx"),
            # The DMS import: a dealership's vehicle by VIN, else by plate however typed.
            models.Index(
                fields=["dealership", "vin"], name="vehicle_vin_idx", condition=~Q(vin="")
            ),
            models.Index(models.F("dealership"), PLATE_KEY, name="vehicle_plate_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.make} {self.model}"


def upcoming_q(now: datetime | None = None, *, via: str = "") -> Q:
    """The one rule for "is this check-in still open": the appointment is scheduled and
    has not started. `via` is the path to the appointment from another model
    (`"appointment__"` from a check-in). `Appointment.is_upcoming` is its Python side."""
    return Q(
        **{
            f"{via}status": Appointment.Status.SCHEDULED,
            f"{via}starts_at__gt": now or timezone.now(),
        }
    )


def late_q(now: datetime | None = None) -> Q:
    """The one rule for a late car: in the workshop past the time it was promised ready
    (`Appointment.is_late` is its Python side). For the list and the mechanics' page."""
    return Q(status=Appointment.Status.ARRIVED, promised_ready_at__lt=now or timezone.now())


def waiting_for_arrival_q(dealership: "Dealership", now: datetime | None = None) -> Q:
    """Booked, not arrived, and past its start plus the dealership's grace time, over one
    dealership's appointments (`Appointment.is_waiting_for_arrival`)."""
    grace = timedelta(minutes=dealership.late_after_minutes)
    return Q(status=Appointment.Status.SCHEDULED, starts_at__lt=(now or timezone.now()) - grace)


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def for_dealerships(self, dealerships: "models.QuerySet[Dealership] | list[Dealership]"):
        return self.filter(dealership__in=dealerships)

    def for_day(self, dealership: Dealership, day: date):
        """The dealership's appointments on `day`, in its own time zone."""
        start, end = dealership.local_day_bounds(day)
        return self.filter(dealership=dealership, starts_at__gte=start, starts_at__lt=end)

    def with_open_items(self):
        """Annotates `open_items`, the number of open check-in items: above 0, the
        appointment is pinned. Counted per row, so for the few rows shown; to find the
        pinned ones among many, use `pinned()`."""
        counted = (
            CheckInItem.objects.open()
            # By the check-in's id, which the partial index of open items holds: one probe.
            .filter(checkin=OuterRef("checkin__id"))
            .order_by()
            .values("checkin")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        return self.annotate(
            open_items=Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)
        )

    def pinned(self):
        """Appointments that wait for staff, whatever their day: an open check-in item,
        an unread message from the customer, or a decline nobody handled yet."""
        return self.filter(pk__in=pinned_ids())

    def with_waiting(self):
        """`with_open_items()`, plus `unread` (messages from the customer nobody read)
        and `decline_waiting` (declined, not handled): what pins a row, per row."""
        unread = (
            unread_messages()
            .filter(appointment=OuterRef("pk"))
            .order_by()
            .values("appointment")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        return self.with_open_items().annotate(
            unread=Coalesce(Subquery(unread, output_field=models.IntegerField()), 0),
            decline_waiting=models.ExpressionWrapper(
                DECLINE_WAITING, output_field=models.BooleanField()
            ),
        )

    def with_unread(self):
        """Appointments with at least one message from the customer nobody has read."""
        return self.filter(pk__in=unread_messages().values("appointment_id"))

    def matching(self, text: str):
        """Appointments whose reference, customer's name or plate contains `text`:
        the reference the whole text, the name every word of it, the plate the text
        without its dashes, dots and spaces. Each part is served by an index of its own
        on PostgreSQL (trigram indexes, see the models' Meta), so the three are joined
        as a union of ids, not an OR across tables."""
        ids = self.order_by().filter(external_ref__icontains=text).values("pk")
        people = Customer.objects.named(text).values("pk")
        ids = ids.union(self.order_by().filter(customer__in=people).values("pk"))
        if normalised_plate(text):
            cars = Vehicle.objects.with_plate(text).values("pk")
            ids = ids.union(self.order_by().filter(vehicle__in=cars).values("pk"))
        return self.filter(pk__in=ids)

    def upcoming(self, now: datetime | None = None):
        """Scheduled and not started yet (`upcoming_q`): the check-in is still open."""
        return self.filter(upcoming_q(now))


def pinned_ids(dealership: "Dealership | None" = None):
    """The ids of the pinned appointments (of one dealership): found from what pins them
    (few rows, each in a partial index) towards the appointments, as a union of ids, so
    the cost follows what is pinned, not the years of history. The one rule of pinning:
    `AppointmentQuerySet.pinned`, the list and `Appointment.is_pinned` use it."""
    here = {"dealership": dealership} if dealership is not None else {}
    via = {"appointment__dealership": dealership} if dealership is not None else {}
    items = CheckInItem.objects.open().order_by()
    if dealership is not None:
        items = items.filter(checkin__appointment__dealership=dealership)
    return (
        items.values("checkin__appointment_id")
        .union(unread_messages().order_by().filter(**via).values("appointment_id"))
        .union(Appointment.objects.order_by().filter(DECLINE_WAITING, **here).values("pk"))
    )


# A decline that staff have not handled (called, moved, cancelled): it pins the appointment.
DECLINE_WAITING = Q(confirmation="declined", decline_handled_at__isnull=True)


def unread_messages():
    """Messages from customers that no one in the office has read yet (the conversation
    lives in `notifications`, whose models build on these: looked up, not imported)."""
    from django.apps import apps

    message = apps.get_model("notifications", "Message")
    return message.objects.filter(direction="in", read_at__isnull=True, appointment__isnull=False)


class Appointment(models.Model):
    class Confirmation(models.TextChoices):
        NO_ANSWER = "", pgettext_lazy("appointment confirmation", "No answer")
        CONFIRMED = "confirmed", pgettext_lazy("appointment confirmation", "Confirmed")
        DECLINED = "declined", pgettext_lazy("appointment confirmation", "Declined")

    class Status(models.TextChoices):
        """The visit state (`workshop.visit` moves it): booked (`scheduled`, the DMS's
        word), arrived, ready, collected (`done`); or cancelled, or no-show."""

        SCHEDULED = "scheduled", pgettext_lazy("appointment status", "Booked")
        ARRIVED = "arrived", pgettext_lazy("appointment status", "Arrived")
        READY = "ready", pgettext_lazy("appointment status", "Ready")
        DONE = "done", pgettext_lazy("appointment status", "Collected")
        CANCELLED = "cancelled", pgettext_lazy("appointment status", "Cancelled")
        NO_SHOW = "no_show", pgettext_lazy("appointment status", "No-show")

    class CancelledBy(models.TextChoices):
        CUSTOMER = "customer", pgettext_lazy("cancelled by", "Customer")
        WORKSHOP = "workshop", pgettext_lazy("cancelled by", "Workshop")
        DMS = "dms", pgettext_lazy("cancelled by", "DMS")

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("dealership"),
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("customer")
    )
    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("vehicle")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED
    )
    external_ref = models.CharField(_("DMS reference"), max_length=64)
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="advised_appointments",
        verbose_name=_("service advisor"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The customer's answer to "will you come?" (a one-word reply, or the portal's
    # buttons: `notifications.conversation.answer`). Changed by UPDATE, never `save()`,
    # so `updated_at` keeps meaning "the booking changed".
    confirmation = models.CharField(
        _("confirmation"), max_length=16, choices=Confirmation.choices, blank=True, default=""
    )
    confirmation_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # A decline pins the appointment until staff have called, moved or cancelled it.
    decline_handled_at = models.DateTimeField(_("decline handled at"), null=True, blank=True)
    # The visit (`workshop.visit`): when each state was reached, and how it ended.
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    promised_ready_at = models.DateTimeField(_("promised ready at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.CharField(
        _("cancelled by"), max_length=16, choices=CancelledBy.choices, blank=True
    )
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    no_show_at = models.DateTimeField(_("no-show recorded at"), null=True, blank=True)
    moves = models.PositiveSmallIntegerField(_("times moved"), default=0)

    objects = AppointmentQuerySet.as_manager()
    # Loaded only by `workshop.views.mechanic_appointments` (Prefetch to_attr).
    mechanic_work_items: list["WorkItem"]

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            models.UniqueConstraint(
                fields=["dealership", "external_ref"], name="appointment_external_ref_unique"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"
            ),
        ]
        indexes = [
            # The day list and the invitation dispatcher: a dealership's appointments by time.
            models.Index(fields=["dealership", "starts_at"], name="appointment_day_idx"),
            # The dispatcher across dealerships: scheduled appointments starting soon.
            models.Index(fields=["status", "starts_at"], name="appointment_status_start_idx"),
            # The list's search: any part of the DMS reference.
            trigram_index(Upper("external_ref"), "appointment_ref_trgm_idx"),
            # Pinned: declines nobody handled yet.
            models.Index(
                fields=["dealership"],
                name="appointment_decline_idx",
                condition=Q(confirmation="declined", decline_handled_at__isnull=True),
            ),
            # The review requests (`notifications.visit_news.request_reviews`): a
            # dealership's collected appointments by when, only the collected ones.
            models.Index(
                fields=["dealership", "collected_at"],
                name="appointment_collected_idx",
                condition=Q(status="done"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} {self.vehicle.plate}"

    @property
    def local_start(self) -> datetime:
        return timezone.localtime(self.starts_at, self.dealership.tz)

    @property
    def local_end(self) -> datetime:
        return timezone.localtime(self.ends_at, self.dealership.tz)

    def withdraw_queued(self, purposes: Sequence[str], reason: str) -> int:
        """Messages to the customer for `purposes` written but not sent yet are not sent
        any more (delivery skips them too); `reason` says why on each."""
        # Through the reverse relation: workshop's models do not import notifications.
        Message = self.messages.model  # type: ignore[attr-defined]
        return self.messages.filter(  # type: ignore[attr-defined]
            direction=Message.Direction.OUT,
            status=Message.Status.QUEUED,
            purpose__in=list(purposes),
        ).update(status=Message.Status.CANCELLED, error=reason)

    def is_upcoming(self, now: datetime | None = None) -> bool:
        """Scheduled and not started yet: `upcoming_q` for one appointment in hand."""
        return self.status == self.Status.SCHEDULED and self.starts_at > (now or timezone.now())

    @property
    def late_from(self) -> datetime:
        """From when a booked car that has not arrived is late (and may be recorded as a
        no-show): the start plus the dealership's grace time."""
        return self.starts_at + timedelta(minutes=self.dealership.late_after_minutes)

    def is_waiting_for_arrival(self, now: datetime | None = None) -> bool:
        """`waiting_for_arrival_q` for one appointment in hand."""
        return self.status == self.Status.SCHEDULED and self.late_from < (now or timezone.now())

    def is_late(self, now: datetime | None = None) -> bool:
        """`late_q` for one appointment in hand."""
        return (
            self.status == self.Status.ARRIVED
            and self.promised_ready_at is not None
            and self.promised_ready_at < (now or timezone.now())
        )

    @property
    def is_pinned(self) -> bool:
        if hasattr(self, "unread"):  # annotated by `with_waiting()`
            waiting = (self.open_items, self.unread, self.decline_waiting)  # type: ignore[attr-defined]
            return any(waiting)
        return Appointment.objects.pinned().filter(pk=self.pk).exists()

    @property
    def decline_is_waiting(self) -> bool:
        return self.confirmation == self.Confirmation.DECLINED and self.decline_handled_at is None

    def total_price(self) -> Decimal:
        return sum((item.price for item in self.work_items.all()), Decimal("0.00"))


class WorkItem(models.Model):
    class Origin(models.TextChoices):
        PLANNED = "planned", _("Planned")
        STAFF = "staff", _("Added by staff")
        OFFER = "offer", _("Customer accepted an offer")
        REMARK = "remark", _("Customer remark")

    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        related_name="work_items",
        verbose_name=_("appointment"),
    )
    description = models.CharField(_("description"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    price = models.DecimalField(
        _("price incl. VAT"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    visible_to_mechanics = models.BooleanField(_("visible to mechanics"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("work item")
        verbose_name_plural = _("work items")

    def __str__(self) -> str:
        return self.description

    @property
    def vat_amount(self) -> Decimal:
        return (self.price - self.price / (1 + self.vat_rate / 100)).quantize(Decimal("0.01"))

    @property
    def is_removable(self) -> bool:
        """Planned work comes from the DMS and stays; staff remove only what staff added."""
        return self.origin != self.Origin.PLANNED


class OfferQuerySet(models.QuerySet["Offer"]):
    def active(self):
        return self.filter(active=True)


class Offer(models.Model):
    """An optional service from the dealership's catalogue."""

    dealership = models.ForeignKey(
        Dealership, on_delete=models.CASCADE, related_name="offers", verbose_name=_("dealership")
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price incl. VAT"), max_digits=10, decimal_places=2)
    url = models.URLField(_("more information (URL)"), blank=True)
    active = models.BooleanField(_("offered to customers"), default=True)
    converts_to_work_item = models.BooleanField(
        _("accepting adds a work item"),
        default=True,
        help_text=_("When staff convert an accepted offer, it becomes a work item at this price."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="offer_price_not_negative")
        ]

    def __str__(self) -> str:
        return self.name


class OfferTranslation(models.Model):
    """An offer's name and description for customers in another language."""

    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="translations", verbose_name=_("offer")
    )
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("offer translation")
        verbose_name_plural = _("offer translations")
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "language"], name="offer_translation_once_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


def new_link_selector() -> str:
    return secrets.token_urlsafe(6)  # 8 characters, the part looked up in the database


def new_link_verifier() -> str:
    return secrets.token_urlsafe(13)  # 18 characters, 104 bits, compared in constant time


class OnlineCheckInQuerySet(models.QuerySet["OnlineCheckIn"]):
    def still_open(self, now: datetime | None = None):
        """Check-ins whose appointment is scheduled and has not started (`upcoming_q`)."""
        return self.filter(upcoming_q(now, via="appointment__"))

    def with_unsent(self):
        """`has_unsent`: whether the customer has answers not sent yet, in the same query."""
        return self.annotate(
            has_unsent=Exists(CheckInItem.objects.unsent().filter(checkin=OuterRef("pk")))
        )


class OnlineCheckIn(models.Model):
    """The customer's side of one appointment: invited, opened, answered, handled."""

    class InvitationStatus(models.TextChoices):
        NOT_DUE = "not_due", pgettext_lazy("invitation status", "Not yet due")
        QUEUED = "queued", pgettext_lazy("invitation status", "Queued")
        SENT = "sent", pgettext_lazy("invitation status", "Sent")
        DELIVERED = "delivered", pgettext_lazy("invitation status", "Delivered")
        FAILED = "failed", pgettext_lazy("invitation status", "Failed")
        UNREACHABLE = "unreachable", pgettext_lazy("invitation status", "Customer not reachable")

    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="checkin", verbose_name=_("appointment")
    )
    # The link is /c/<selector><verifier>: the selector finds the row, the verifier is the secret.
    link_selector = models.CharField(max_length=16, unique=True, default=new_link_selector)
    link_verifier = models.CharField(max_length=32, default=new_link_verifier)
    link_rotated_at = models.DateTimeField(_("link replaced at"), null=True, blank=True)
    invitation_status = models.CharField(
        _("invitation"),
        max_length=16,
        choices=InvitationStatus.choices,
        default=InvitationStatus.NOT_DUE,
    )
    # The dispatcher run that claimed this invitation (a conditional update sets it).
    invitation_claim = models.UUIDField(null=True, blank=True, editable=False)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    confirmation_asked_at = models.DateTimeField(_("asked to confirm at"), null=True, blank=True)
    review_requested_at = models.DateTimeField(_("review asked at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("first answered at"), null=True, blank=True)
    last_answered_at = models.DateTimeField(_("last answered at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("all items handled at"), null=True, blank=True)

    objects = OnlineCheckInQuerySet.as_manager()
    # Loaded only by `workshop.views.mechanic_appointments` (Prefetch to_attr).
    shared_remarks: list["CheckInItem"]

    class Meta:
        verbose_name = _("online check-in")
        verbose_name_plural = _("online check-ins")
        indexes = [
            # The dispatcher: check-ins whose invitation has not gone out yet.
            models.Index(
                fields=["invitation_status"],
                name="checkin_invitation_due_idx",
                condition=Q(invitation_status="not_due"),
            ),
        ]

    def __str__(self) -> str:
        return f"check-in {self.appointment}"

    @property
    def token(self) -> str:
        return f"{self.link_selector}{self.link_verifier}"

    @property
    def link(self) -> str:
        """The customer's link, as it goes into SMS and e-mail."""
        return f"{settings.SITE_URL}/c/{self.token}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    @property
    def is_closed(self) -> bool:
        """The link shows "closed" and takes no answers: see `upcoming_q`."""
        return not self.appointment.is_upcoming()

    def rotate_link(self) -> None:
        self.link_selector = new_link_selector()
        self.link_verifier = new_link_verifier()
        self.link_rotated_at = timezone.now()
        self.save(update_fields=["link_selector", "link_verifier", "link_rotated_at"])

    @property
    def progress(self) -> str:
        """The furthest step reached: invited, opened, answered or handled (or empty)."""
        if self.handled_at:
            return "handled"
        if self.answered_at:
            return "answered"
        if self.opened_at:
            return "opened"
        if self.invited_at:
            return "invited"
        return ""


class CheckInItemQuerySet(models.QuerySet["CheckInItem"]):
    def unsent(self):
        """Drafts: answers the customer has not sent yet."""
        return self.filter(state=CheckInItem.State.DRAFT)

    def submitted(self):
        return self.exclude(state=CheckInItem.State.DRAFT)

    def open(self):
        return self.filter(state=CheckInItem.State.OPEN)

    def visible_to_mechanics(self):
        return self.filter(kind=CheckInItem.Kind.REMARK, visible_to_mechanics=True).submitted()


class CheckInItem(models.Model):
    """One thing the customer sent in, which staff must handle.

    While the customer is still filling in the page the item is a draft; sending the
    check-in opens it; staff handle it. A customer who changes an answer that was
    already sent withdraws the old item and sends a new one, so staff see both.
    """

    class Kind(models.TextChoices):
        OFFER_ACCEPTED = "offer_accepted", _("Accepted offer")
        OFFER_CONTACT = "offer_contact", _("Wants to be contacted about an offer")
        OFFER_DECLINED = "offer_declined", _("No longer wants an offer")
        REMARK = "remark", _("Remark")
        # Sent from the check-in page about the visit itself (`workshop.visit`).
        CANCELLED = "cancelled", _("Cancelled the appointment")
        DATE_REQUEST = "date_request", _("Asks for another date")
        LOW_RATING = "low_rating", _("Low rating")

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("check-in item state", "Not sent yet")
        OPEN = "open", pgettext_lazy("check-in item state", "Open")
        HANDLED = "handled", pgettext_lazy("check-in item state", "Handled")
        WITHDRAWN = "withdrawn", pgettext_lazy("check-in item state", "Withdrawn by the customer")

    checkin = models.ForeignKey(
        OnlineCheckIn,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("online check-in"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    offer = models.ForeignKey(
        Offer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="checkin_items",
        verbose_name=_("offer"),
    )
    # What the customer saw when they answered; the catalogue may change later.
    offer_name = models.CharField(_("offer"), max_length=100, blank=True)
    offer_price = models.DecimalField(
        _("offer price incl. VAT"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    subject = models.CharField(_("subject"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    # A date request's preferred days: [{"day": "2026-12-05", "part": "morning"}, ...].
    preferred_days = models.JSONField(_("preferred days"), default=list, blank=True)
    visible_to_mechanics = models.BooleanField(_("visible to mechanics"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handling_note = models.TextField(_("note"), blank=True)
    # The key of the form the customer added this remark with: a retried post of the
    # same form (a double tap, a network retry) finds this remark instead of adding one.
    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)
    work_item = models.OneToOneField(
        WorkItem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="checkin_item",
        verbose_name=_("work item"),
    )

    objects = CheckInItemQuerySet.as_manager()
    # A remark's checked files, loaded only where asked for (`read_answers(files=True)`,
    # `mechanic_appointments`).
    ready_attachments: list["Attachment"]

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("check-in item")
        verbose_name_plural = _("check-in items")
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="handled")
                | (Q(handled_by__isnull=False) & Q(handled_at__isnull=False)),
                name="checkin_item_handled_has_handler_and_time",
            ),
            models.CheckConstraint(
                # The answers to offers name their offer; remarks and the visit's items
                # (cancelled, another date, a low rating) have none.
                condition=~Q(kind__in=["offer_accepted", "offer_contact", "offer_declined"])
                | Q(offer__isnull=False),
                name="checkin_item_offer_kinds_name_offer",
            ),
            models.CheckConstraint(
                condition=~Q(kind="remark") | ~Q(subject=""),
                name="checkin_item_remark_has_subject",
            ),
            # A customer has at most one unsent answer per offer.
            models.UniqueConstraint(
                fields=["checkin", "offer"],
                condition=Q(state="draft"),
                name="checkin_item_one_draft_per_offer",
            ),
            # One remark per form the customer posted, however often it was posted.
            models.UniqueConstraint(
                fields=["checkin", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="checkin_item_once_per_form_key",
            ),
        ]
        indexes = [
            # Pinned appointments: does this check-in have open items?
            models.Index(
                fields=["checkin"], name="checkin_item_open_idx", condition=Q(state="open")
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.offer_name

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    @property
    def is_remark(self) -> bool:
        return self.kind == self.Kind.REMARK


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The customer's file name is kept in `original_name`, never in the storage key.
    return f"checkins/{instance.item.checkin_id}/{secrets.token_hex(16)}"


class Attachment(models.Model):
    """A photo or video on a remark."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        VIDEO = "video", _("Video")

    class State(models.TextChoices):
        UPLOADING = "uploading", pgettext_lazy("photo or video state", "Uploading")
        CHECKING = "checking", pgettext_lazy("photo or video state", "Being checked")
        READY = "ready", pgettext_lazy("photo or video state", "Ready")
        REJECTED = "rejected", pgettext_lazy("photo or video state", "Rejected")

    item = models.ForeignKey(
        CheckInItem,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("remark"),
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.UPLOADING
    )
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    original_name = models.CharField(_("file name"), max_length=255)
    # The size of the file as the customer sent it; `size` changes when a photo is
    # rewritten. With the name, it tells a file sent again from a new one.
    original_size = models.PositiveBigIntegerField(_("size as sent (bytes)"), default=0)
    thumbnail = models.ImageField(_("thumbnail"), upload_to="thumbnails/", blank=True)
    # A JPEG copy of a HEIC photo, for browsers that cannot show HEIC.
    display_file = models.FileField(
        _("copy for browsers"), upload_to="display/", blank=True, max_length=255
    )
    # One of the REASON_* texts in portal/uploads/refusals.py, in English; translated when shown.
    rejection_reason = models.CharField(_("why it was not accepted"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    # The check a worker has claimed (portal/uploads/processing.py): when it began, empty
    # while none runs; and how many checks ended without an outcome (their worker died or
    # ran out of time), after which the sweep gives up on the file.
    check_started_at = models.DateTimeField(_("check started at"), null=True, blank=True)
    checks_interrupted = models.PositiveSmallIntegerField(_("checks interrupted"), default=0)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [
            # The sweep: files still being checked.
            models.Index(
                fields=["created_at"],
                name="attachment_checking_idx",
                condition=Q(state="checking"),
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class AppointmentEvent(models.Model):
    """One customer, staff or system action on the appointment's timeline.

    Messages (SMS, e-mail, replies) live in `notifications.Message`; the timeline
    interleaves both.
    """

    class Kind(models.TextChoices):
        CHECKIN_OPENED = "checkin_opened", _("Opened the check-in page")
        CHECKIN_ANSWERED = "checkin_answered", _("Sent the check-in")
        CONTACT_CHANGED = "contact_changed", _("Changed contact details")
        ITEM_HANDLED = "item_handled", _("Handled a check-in item")
        ITEM_CONVERTED = "item_converted", _("Converted a check-in item to a work item")
        ITEM_SHARED = "item_shared", _("Changed what mechanics see")
        WORK_ITEM_ADDED = "work_item_added", _("Added a work item")
        WORK_ITEM_CHANGED = "work_item_changed", _("Changed a work item")
        WORK_ITEM_REMOVED = "work_item_removed", _("Removed a work item")
        LINK_ROTATED = "link_rotated", _("Replaced the check-in link")
        INVITATION_RESENT = "invitation_resent", _("Resent the invitation")
        CUSTOMER_UNREACHABLE = "customer_unreachable", _("Customer not reachable")
        SMS_OPT_OUT = "sms_opt_out", _("Customer opted out of SMS")
        CONFIRMED = "confirmed", _("Confirmed the appointment")
        DECLINED = "declined", _("Declined the appointment")
        DECLINE_HANDLED = "decline_handled", _("Handled the decline")
        MESSAGES_READ = "messages_read", _("Read the customer's messages")
        MESSAGE_ATTACHED = "message_attached", _("Attached a message to this appointment")
        # The visit (`workshop.visit`).
        BOOKED = "booked", _("Booked the appointment")
        MOVED = "moved", _("Moved the appointment")
        CANCELLED = "cancelled", _("Cancelled the appointment")
        DATE_REQUESTED = "date_requested", _("Asked for another date")
        ARRIVED = "arrived", _("Car arrived")
        READY = "ready", _("Car ready")
        COLLECTED = "collected", _("Car collected")
        NO_SHOW = "no_show", _("Did not come")
        RATED = "rated", _("Rated the visit")
        # Follow-up calls (the `followups` app): opened, each attempt, closed.
        FOLLOW_UP_OPENED = "follow_up_opened", _("Needs a call")
        CALL_ATTEMPT = "call_attempt", _("Call attempt")
        FOLLOW_UP_CLOSED = "follow_up_closed", _("Follow-up closed")

    class Actor(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("appointment")
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    kind = models.CharField(_("what happened"), max_length=32, choices=Kind.choices)
    actor = models.CharField(_("by whom"), max_length=16, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    # For changed values: which field, from what, to what.
    field = models.CharField(_("changed field"), max_length=64, blank=True)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)
    detail = models.TextField(_("details"), blank=True)

    # Sentences the system itself writes into `detail`, kept in English and translated
    # when shown (see `detail_text`).
    NO_USABLE_ADDRESS = gettext_noop("Invitation: no mobile number or e-mail address we may use.")
    OPTED_IN_AGAIN = gettext_noop("Opted in to SMS again (START)")

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        indexes = [
            # The appointment page's timeline, oldest first.
            models.Index(fields=["appointment", "at"], name="event_timeline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M})"

    @property
    def detail_text(self) -> str:
        """`detail` for the timeline, in the reader's language where the system wrote it.

        Only kinds whose detail nobody typed go through the catalogue: a remark's subject
        that happens to match a translated word must stay as the customer wrote it.
        """
        written_by_system = self.kind in (self.Kind.CUSTOMER_UNREACHABLE, self.Kind.SMS_OPT_OUT)
        if written_by_system or self.detail == self.OPTED_IN_AGAIN:
            return gettext(self.detail)
        return self.detail


class Review(models.Model):
    """The customer's rating of a collected visit, on the page behind their link
    (`workshop.visit.rate`); 1 or 2 stars pins the appointment for the manager."""

    LOW = 2  # this many stars or fewer pins the appointment

    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="review", verbose_name=_("appointment")
    )
    stars = models.PositiveSmallIntegerField(
        _("stars"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("rated at"), default=timezone.now)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="review_stars_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment} {self.stars}/5"

    @property
    def is_low(self) -> bool:
        return self.stars <= self.LOW
