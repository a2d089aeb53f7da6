"""Staff log-in lockouts: django-axes, plus a limit per address for password spraying."""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class AddressLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, with a second, higher limit on the address alone.

    Axes locks a username at one address after AXES_FAILURE_LIMIT failures. Whoever tries
    a password or two on many usernames (password spraying) never gets there, so the
    address itself is locked after AXES_ADDRESS_FAILURE_LIMIT failures within the
    cool-off time, whatever the usernames. The limit is higher because a dealership's
    office shares one address; a successful log-in clears that user's failures
    (AXES_RESET_ON_SUCCESS), so everyday typos do not add up. Axes itself offers one
    limit only; its maintainers point to a handler like this one (django-axes#661).
    """

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or self.address_is_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not request.axes_locked_out and self.address_is_locked(request):
            # The failure that reaches the limit already answers with the lockout page,
            # as axes does for a username.
            request.axes_locked_out = True
            request.axes_credentials = credentials

    def address_is_locked(self, request) -> bool:
        failures = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,
            attempt_time__gte=get_cool_off_threshold(request),
        ).aggregate(total=Sum("failures_since_start"))["total"]
        return (failures or 0) >= settings.AXES_ADDRESS_FAILURE_LIMIT
