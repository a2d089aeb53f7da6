"""The client's address, as far as it can be trusted: one answer for every limit.

Staff log-in lockouts (django-axes, AXES_CLIENT_IP_CALLABLE) and the portal's rate limit
(django-ratelimit, RATELIMIT_IP_META_KEY) both call `client_ip`, so they always agree.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from python_ipware import IpWare

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(request: HttpRequest) -> str:
    """The address of whoever connected to the outermost of our trusted proxies.

    With TRUSTED_PROXY_COUNT = 0 clients connect directly and REMOTE_ADDR is theirs; a
    forwarded header is the client's own writing and ignored. Behind N proxies, each
    appends the address it saw to X-Forwarded-For, so the client's is the N-th entry from
    the right; entries further left prove nothing. A request with too few entries went
    round the proxies and counts under REMOTE_ADDR.
    """
    address = _forwarded(request) if settings.TRUSTED_PROXY_COUNT else None
    if address is None:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return "0.0.0.0"  # noqa: S104 - a key for the limits, not a bind address
    if address.version == 6:
        # Whoever holds an IPv6 /64 (one subscriber) can pick any address in it.
        address = ipaddress.ip_network((address, 64), strict=False).network_address
    return str(address)


def _forwarded(request: HttpRequest) -> IpAddress | None:
    # python-ipware counts the proxies listed in the header; the nearest one is not
    # listed (it is REMOTE_ADDR), hence one fewer.
    ipware = IpWare(
        precedence=("HTTP_X_FORWARDED_FOR",), proxy_count=settings.TRUSTED_PROXY_COUNT - 1
    )
    address, _trusted_route = ipware.get_client_ip(request.META)
    return address
