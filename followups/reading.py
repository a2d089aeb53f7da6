"""What the appointment page shows of its follow-up calls (`workshop.views` reads it)."""

from django.db.models import Prefetch

from followups.models import Attempt, FollowUp
from workshop.models import Appointment, Customer


def phone_flagged(customer: Customer, attempts: list[Attempt]) -> bool:
    """A call found the customer's current number wrong: it needs correcting."""
    phone = customer.phone_e164
    return bool(phone) and any(
        a.outcome == Attempt.Outcome.WRONG_NUMBER and a.phone == phone for a in attempts
    )


def for_appointment(appointment: Appointment) -> dict:
    """The appointment page's follow-ups and their attempts (two queries)."""
    follow_ups = list(
        FollowUp.objects.filter(appointment=appointment)
        .select_related("assigned_to")
        .prefetch_related(Prefetch("attempts", queryset=Attempt.objects.select_related("by")))
        .order_by("-created_at", "-pk")
    )
    every = [a for f in follow_ups for a in f.attempts.all()]
    return {
        "follow_ups": follow_ups,
        "phone_flagged": phone_flagged(appointment.customer, every),
        "not_reachable": any(f.outcome == FollowUp.Outcome.NOT_REACHABLE for f in follow_ups),
    }
