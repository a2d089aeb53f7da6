"""Who sees what: staff see only the dealerships they belong to, as their role allows."""

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from workshop.models import Dealership, Membership, Role

SESSION_KEY = "dealership_id"


def memberships(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("dealership")


def dealerships_for(user) -> QuerySet[Dealership]:
    return Dealership.objects.filter(memberships__user=user)


def current_membership(request: HttpRequest) -> Membership:
    """The membership the user works in now: the one chosen in the switcher, or the first.

    A user with no membership sees nothing (404), whatever their Django flags.
    """
    chosen = request.session.get(SESSION_KEY)
    mine = list(memberships(request.user).order_by("dealership__name"))
    if not mine:
        raise Http404("No dealership")
    for membership in mine:
        if membership.dealership_id == chosen:
            return membership
    return mine[0]


def choose_dealership(request: HttpRequest, dealership_id: int) -> None:
    if not memberships(request.user).filter(dealership_id=dealership_id).exists():
        raise Http404("No such dealership")
    request.session[SESSION_KEY] = dealership_id


def is_mechanic(membership: Membership) -> bool:
    return membership.role == Role.MECHANIC
