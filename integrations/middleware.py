"""Every API call logged: key, dealership, method, path, status, time taken; never the
key itself, the query string or the body (which hold customers' details)."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.client_ip import client_ip
from integrations.models import ApiCall

log = logging.getLogger("integrations.api")

API_PREFIX = "/api/"


def api_call_log(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return get_response(request)
        started = time.monotonic()
        response = get_response(request)
        key = getattr(request, "api_key", None)
        took = int((time.monotonic() - started) * 1000)
        ApiCall.objects.create(
            key=key,
            dealership_id=key.dealership_id if key else None,
            method=request.method or "",
            path=request.path[:300],
            status=response.status_code,
            duration_ms=took,
            client_ip=client_ip(request) or None,
        )
        log.info(
            "API %s %s %s key=%s %dms",
            request.method,
            request.path,
            response.status_code,
            key.selector if key else "-",
            took,
        )
        return response

    return middleware
