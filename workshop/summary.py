"""The staff's morning summary e-mail, per dealership, for the members who opted in
(`Membership.morning_summary`): today's appointments, what waits to be handled (the
pinned ones, whatever their day), and today's unconfirmed and declined ones.

Beat runs `send_due_summaries` every few minutes (`workshop.tasks`). A dealership is due
from its sending start (`Dealership.sending_starts`, its own time zone) until its sending
end, on its sending days. Each goes out once a day: a conditional UPDATE of
`Dealership.summary_sent_on` claims the day, and the claim commits with the sending, so a
second scheduler finds it taken, and a failed send leaves it to the next run.

A fixed number of queries per dealership: the claim, the recipients, today's
appointments, the pinned ones; the e-mails go out over one connection.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from workshop.models import Appointment, Dealership, Membership, pinned_ids

logger = logging.getLogger(__name__)

Status = Appointment.Status
Confirmation = Appointment.Confirmation

# The pinned appointments named in the e-mail; the rest are counted ("and N more").
PINNED_SHOWN = 30


@dataclass
class Summary:
    dealership: Dealership
    day: date
    appointments: list[Appointment]
    pinned: list[Appointment]
    pinned_more: bool

    @property
    def unconfirmed(self) -> list[Appointment]:
        return [
            a
            for a in self.appointments
            if a.status == Status.SCHEDULED and a.confirmation == Confirmation.NO_ANSWER
        ]

    @property
    def declined(self) -> list[Appointment]:
        return [a for a in self.appointments if a.confirmation == Confirmation.DECLINED]

    @property
    def list_url(self) -> str:
        return settings.SITE_URL + reverse("workshop:appointments")


def local_now(dealership: Dealership, now: datetime) -> datetime:
    return timezone.localtime(now, dealership.tz)


def is_due(dealership: Dealership, now: datetime) -> bool:
    """The dealership's morning has come today and its summary has not gone out yet."""
    return (
        dealership.in_sending_hours(now)
        and dealership.summary_sent_on != local_now(dealership, now).date()
    )


def read_summary(dealership: Dealership, day: date) -> Summary:
    """Two queries: today's appointments (cancelled ones left out), the pinned ones."""
    appointments = list(
        Appointment.objects.for_day(dealership, day)
        .exclude(status=Status.CANCELLED)
        .select_related("customer", "vehicle")
        .order_by("starts_at", "pk")
    )
    for appointment in appointments:
        appointment.dealership = dealership
    pinned = list(
        Appointment.objects.filter(pk__in=pinned_ids(dealership))
        .with_waiting()
        .select_related("customer", "vehicle")
        .order_by("starts_at", "pk")[: PINNED_SHOWN + 1]
    )
    for appointment in pinned:
        appointment.dealership = dealership
        # Read by the e-mail's template: where the appointment opens for staff.
        appointment.staff_url = settings.SITE_URL + reverse(  # type: ignore[attr-defined]
            "workshop:appointment", args=[appointment.pk]
        )
    return Summary(dealership, day, appointments, pinned[:PINNED_SHOWN], len(pinned) > PINNED_SHOWN)


def recipients(dealership: Dealership) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(
                dealership=dealership, morning_summary=True, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def render(summary: Summary) -> tuple[str, str, str]:
    """Subject, text and HTML, in the dealership's language and time zone."""
    dealership = summary.dealership
    with translation.override(dealership.language), timezone.override(dealership.tz):
        subject = gettext("%(dealership)s today, %(day)s: %(count)d appointments") % {
            "dealership": dealership.name,
            "day": date_format(summary.day, "DATE_FORMAT"),
            "count": len(summary.appointments),
        }
        context = {"summary": summary, "dealership": dealership, "subject": subject}
        text = render_to_string("workshop/summary/morning_summary.txt", context)
        html = render_to_string("workshop/summary/morning_summary.html", context)
    return subject, text, html


def send_summary(dealership: Dealership, now: datetime | None = None) -> bool:
    """Claims the dealership's day and e-mails its summary; False when already sent today
    (or nobody wants it)."""
    now = now or timezone.now()
    today = local_now(dealership, now).date()
    with transaction.atomic():
        claimed = (
            Dealership.objects.filter(pk=dealership.pk)
            .exclude(summary_sent_on=today)
            .update(summary_sent_on=today)
        )
        if not claimed:
            return False
        dealership.summary_sent_on = today
        to = recipients(dealership)
        if not to:
            return False
        subject, text, html = render(read_summary(dealership, today))
        mails = []
        for address in to:  # one e-mail each: no one sees the others' addresses
            mail = EmailMultiAlternatives(subject, text, to=[address])
            mail.attach_alternative(html, "text/html")
            mails.append(mail)
        # A failure raises: the claim rolls back and the next run tries again.
        get_connection(fail_silently=False).send_messages(mails)
    return True


def send_due_summaries(now: datetime | None = None) -> int:
    """Every dealership whose morning has come: its summary, once. One query to find
    them, then a fixed number per dealership."""
    now = now or timezone.now()
    candidates = Dealership.objects.filter(memberships__morning_summary=True).distinct()
    sent = 0
    for dealership in candidates:
        if not is_due(dealership, now):
            continue
        try:
            sent += send_summary(dealership, now)
        except Exception:
            # A mail server that refused one dealership's summary stops no other; this
            # one's claim rolled back, so the next run tries it again.
            logger.exception("Morning summary of dealership %s not sent", dealership.pk)
    return sent
