"""Who sees what: staff see only the dealerships they belong to, as their role allows.

Everything a user may not see answers 404, never 403, so guessed ids leak nothing:
another dealership's appointment, a mechanic asking for a price, a remark nobody shared.
"""

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from config.htmx import HtmxHttpRequest
from workshop.models import (
    Appointment,
    Attachment,
    CheckInItem,
    Dealership,
    Membership,
    Role,
)

SESSION_KEY = "dealership_id"


class StaffRequest(HtmxHttpRequest):
    """A request to a staff page: behind `login_required`, so `user` is a signed-in `User`."""

    user: User


def memberships(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("dealership")


def dealerships_for(user) -> QuerySet[Dealership]:
    return Dealership.objects.filter(memberships__user=user)


def current_membership(request: HttpRequest) -> Membership:
    """The membership the user works in now: the one chosen in the switcher, or the first.

    A user with no membership sees nothing (404), whatever their Django flags.
    """
    return staff_access(request).membership


def choose_dealership(request: HttpRequest, dealership_id: int) -> None:
    if not memberships(request.user).filter(dealership_id=dealership_id).exists():
        raise Http404("No such dealership")
    request.session[SESSION_KEY] = dealership_id


def is_mechanic(membership: Membership) -> bool:
    return membership.role == Role.MECHANIC


@dataclass
class StaffAccess:
    """The signed-in user's memberships, with the one they work in now (one query)."""

    membership: Membership
    memberships: list[Membership]

    @property
    def dealership(self) -> Dealership:
        return self.membership.dealership

    @property
    def is_mechanic(self) -> bool:
        return is_mechanic(self.membership)

    def today(self) -> date:
        return timezone.localdate(timezone=self.dealership.tz)

    def require_office(self) -> None:
        """Receptionists and managers only: mechanics get a 404."""
        if self.is_mechanic:
            raise Http404("Not for mechanics")

    def working_in(self, dealership_id: int) -> "StaffAccess":
        """The same user, working in the dealership of something they opened.

        A user in two dealerships may open a link into either; they act there with the
        role they have there. A dealership they do not belong to is a 404.
        """
        for membership in self.memberships:
            if membership.dealership_id == dealership_id:
                return StaffAccess(membership=membership, memberships=self.memberships)
        raise Http404("Not your dealership")


def staff_access(request: HttpRequest) -> StaffAccess:
    chosen = request.session.get(SESSION_KEY)
    mine = list(memberships(request.user).order_by("dealership__name"))
    if not mine:
        raise Http404("No dealership")
    current = next((m for m in mine if m.dealership_id == chosen), mine[0])
    return StaffAccess(membership=current, memberships=mine)


def appointments_visible_to(access: StaffAccess) -> QuerySet[Appointment]:
    """Every appointment of the user's dealerships (`get_appointment` checks the role)."""
    dealership_ids = [m.dealership_id for m in access.memberships]
    return Appointment.objects.filter(dealership_id__in=dealership_ids)


def get_appointment(
    access: StaffAccess, pk: int, *, office_only: bool = True
) -> tuple[Appointment, StaffAccess]:
    """The appointment, and the user's access in its dealership; 404 when not theirs.

    `office_only` pages (prices, contact details, actions) are for receptionists and
    managers; the others (the workshop's view, the job card) mechanics may open too.
    """
    appointment = (
        appointments_visible_to(access)
        # visitstaff: "review", for a low rating's stars on the page (one join, no query).
        .select_related("dealership", "customer", "vehicle", "checkin", "advisor", "review")
        .filter(pk=pk)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment")
    there = access.working_in(appointment.dealership_id)
    if there.is_mechanic and office_only:
        raise Http404("Not for mechanics")
    return appointment, there


def get_attachment(access: StaffAccess, pk: int) -> Attachment:
    """A checked customer file on a sent remark of the user's dealerships.

    Mechanics get only files of remarks shared with them.
    """
    attachment = (
        Attachment.objects.select_related("item__checkin__appointment__dealership")
        .filter(
            pk=pk,
            state=Attachment.State.READY,
            item__checkin__appointment__dealership_id__in=[
                m.dealership_id for m in access.memberships
            ],
        )
        .exclude(item__state=CheckInItem.State.DRAFT)
        .first()
    )
    if attachment is None:
        raise Http404("No such file")
    appointment = attachment.item.checkin.appointment
    there = access.working_in(appointment.dealership_id)
    if there.is_mechanic and not attachment.item.visible_to_mechanics:
        raise Http404("Not shared with mechanics")
    return attachment
