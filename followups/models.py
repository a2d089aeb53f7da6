"""Follow-up calls: a call the workshop owes a customer, its numbered attempts, and the
dealership's calendar and settings they are dated by.

The rules (what an attempt's outcome does next) live in `followups.attempts`; creating a
follow-up where its reason arises lives in `followups.opening`; working days in
`followups.calendar`.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from workshop.models import LANGUAGE_CHOICES, Appointment, AppointmentEvent, Dealership


class ClosingDay(models.Model):
    """A day the dealership is closed besides weekends and its country's public holidays."""

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="closing_days",
        verbose_name=_("dealership"),
    )
    date = models.DateField(_("date"))
    label = models.CharField(_("why"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("closing day")
        verbose_name_plural = _("closing days")
        constraints = [
            models.UniqueConstraint(fields=["dealership", "date"], name="closing_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.label}".strip()


class FollowUpSettings(models.Model):
    """A dealership's follow-up settings, the defaults until a manager adds them
    (`for_dealership`), so Dealership itself carries none of them."""

    dealership = models.OneToOneField(
        Dealership,
        on_delete=models.CASCADE,
        related_name="follow_up_settings",
        verbose_name=_("dealership"),
    )
    days_between_attempts = models.PositiveSmallIntegerField(
        _("working days between call attempts"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    escalate_after_hours = models.PositiveSmallIntegerField(
        _("show to managers when overdue by (hours)"),
        default=24,
        validators=[MinValueValidator(1)],
    )
    not_opened_days_before = models.PositiveSmallIntegerField(
        _("call when the invitation is unopened this many days before"),
        default=2,
        validators=[MinValueValidator(1)],
    )

    class Meta:
        verbose_name = _("follow-up settings")
        verbose_name_plural = _("follow-up settings")

    def __str__(self) -> str:
        return str(self.dealership)

    @classmethod
    def for_dealership(cls, dealership: Dealership) -> "FollowUpSettings":
        """The dealership's settings, or the defaults (unsaved) while it has none: reading
        them never writes; a manager adds them in the admin."""
        return cls.objects.filter(dealership=dealership).first() or cls(dealership=dealership)


class Tag(models.Model):
    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="follow_up_tags",
        verbose_name=_("dealership"),
    )
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["dealership", "name"], name="tag_once")]

    def __str__(self) -> str:
        return self.name


class Reason(models.TextChoices):
    OFFER_CONTACT = "offer_contact", _("Asked about an offer")
    DECLINED = "declined", _("Declined the appointment")
    NOT_OPENED = "not_opened", _("Did not open the invitation")
    NOT_REACHABLE = "not_reachable", _("Not reachable by SMS or e-mail")
    CUSTOMER_MESSAGE = "customer_message", _("Message that needs a call")
    LOW_RATING = "low_rating", _("Low rating")
    NO_SHOW = "no_show", _("Did not come")
    MANUAL = "manual", _("Added by staff")


class Priority(models.IntegerChoices):
    # Numbers, so the list sorts by them: higher first.
    LOW = 1, pgettext_lazy("follow-up priority", "Low")
    MEDIUM = 2, pgettext_lazy("follow-up priority", "Medium")
    HIGH = 3, pgettext_lazy("follow-up priority", "High")
    URGENT = 4, pgettext_lazy("follow-up priority", "Urgent")


class FollowUpQuerySet(models.QuerySet["FollowUp"]):
    def open(self):
        return self.filter(status=FollowUp.Status.OPEN)

    def for_dealership(self, dealership: Dealership):
        return self.filter(dealership=dealership)

    def due(self, now: datetime):
        return self.open().filter(due_at__lte=now)

    def escalated(self, threshold_hours: int, now: datetime):
        """Open, and urgent or overdue by more than the dealership's threshold: the
        managers see these (`FollowUp.is_escalated` is its Python side)."""
        return self.open().filter(
            Q(priority=Priority.URGENT) | Q(due_at__lt=now - timedelta(hours=threshold_hours))
        )


class FollowUp(models.Model):
    """A call the workshop owes a customer about one appointment."""

    Reason = Reason
    Priority = Priority

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("follow-up status", "Open")
        CLOSED = "closed", pgettext_lazy("follow-up status", "Closed")

    class Outcome(models.TextChoices):
        NONE = "", pgettext_lazy("follow-up outcome", "—")
        RESOLVED = "resolved", pgettext_lazy("follow-up outcome", "Resolved")
        NOT_REACHABLE = "not_reachable", pgettext_lazy("follow-up outcome", "Not reachable")
        WRONG_NUMBER = "wrong_number", pgettext_lazy("follow-up outcome", "Wrong number")
        CANCELLED = "cancelled", pgettext_lazy("follow-up outcome", "Cancelled")

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="follow_ups",
        verbose_name=_("dealership"),
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        related_name="follow_ups",
        verbose_name=_("appointment"),
    )
    reason = models.CharField(_("why"), max_length=20, choices=Reason.choices)
    # What the reason was about, in the words of where it arose (an offer's name...).
    about = models.CharField(_("about"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, blank=True, default=""
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.MEDIUM
    )
    tags = models.ManyToManyField(
        Tag, blank=True, related_name="follow_ups", verbose_name=_("tags")
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    due_at = models.DateTimeField(_("due"))
    # The due time is a time agreed with the customer (a phone appointment).
    is_call_back = models.BooleanField(_("call back at an agreed time"), default=False)
    attempt_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The "we tried to reach you" message went (after the first unanswered call).
    tried_message_at = models.DateTimeField(_("told we tried at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        constraints = [
            # One open follow-up per appointment and reason, whatever fires twice at once.
            models.UniqueConstraint(
                fields=["appointment", "reason"],
                condition=Q(status="open"),
                name="followup_one_open_per_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="open", outcome="", closed_at__isnull=True)
                | (Q(status="closed", closed_at__isnull=False) & ~Q(outcome="")),
                name="followup_closed_has_outcome",
            ),
        ]
        indexes = [
            # The To-call page and the nav's count: a dealership's open follow-ups by due time.
            models.Index(
                fields=["dealership", "due_at"],
                name="followup_open_due_idx",
                condition=Q(status="open"),
            ),
            # The call-back sweep: phone appointments across dealerships by due time.
            models.Index(
                fields=["due_at"],
                name="followup_call_back_idx",
                condition=Q(status="open", is_call_back=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} · {self.appointment_id}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def is_due(self, now: datetime) -> bool:
        return self.is_open and self.due_at <= now

    def is_escalated(self, threshold_hours: int, now: datetime) -> bool:
        return self.is_open and (
            self.priority == Priority.URGENT or self.due_at < now - timedelta(hours=threshold_hours)
        )

    def note(self, kind: str, by, at: datetime, detail: str) -> None:
        """A line about this follow-up on the appointment's timeline, by the staff member
        `by` or, without one, the system."""
        AppointmentEvent.objects.create(
            appointment_id=self.appointment_id,
            at=at,
            kind=kind,
            actor=AppointmentEvent.Actor.STAFF if by else AppointmentEvent.Actor.SYSTEM,
            user=by,
            detail=detail,
        )


class Attempt(models.Model):
    """One call, numbered from 1, and what came of it."""

    class Outcome(models.TextChoices):
        NO_ANSWER = "no_answer", _("No answer")
        VOICEMAIL = "voicemail", _("Voicemail left")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        AGREED = "agreed", _("Answered and agreed")
        NOT_AGREED = "not_agreed", _("Answered, no agreement")
        CALL_BACK = "call_back", _("Call back at an agreed time")
        # Written by the system: a phone appointment passed without a call logged.
        MISSED_CALL_BACK = "missed_call_back", _("Agreed call-back missed")

    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("follow-up")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    call_back_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    # The number called, as it was: a wrong number stays flagged while the customer has it.
    phone = models.CharField(_("number called"), max_length=32, blank=True)

    class Meta:
        ordering = ["follow_up", "number"]
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "number"], name="attempt_number_once")
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_outcome_display()}"


class NoteTemplate(models.Model):
    """A ready note for the call dialog, per dealership and language, for an outcome."""

    dealership = models.ForeignKey(
        Dealership,
        on_delete=models.CASCADE,
        related_name="note_templates",
        verbose_name=_("dealership"),
    )
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    outcome = models.CharField(
        _("for the outcome"), max_length=20, choices=Attempt.Outcome.choices, blank=True
    )
    name = models.CharField(_("name"), max_length=60)
    text = models.TextField(_("text"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("note template")
        verbose_name_plural = _("note templates")

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"
