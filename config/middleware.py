from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseLocation

from config.htmx import HtmxHttpRequest


class HtmxMessagesMiddleware:
    """htmx plumbing in one place.

    - Responses differ by `HX-Request` (page or partial), so caches must keep them apart.
    - A redirect answering an htmx request becomes `HX-Location`, so htmx loads the
      new page instead of swapping it into the element that asked.
    - Pending flash messages ride along as an out-of-band swap into `#messages`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HtmxHttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        if not request.htmx:
            return response
        if 300 <= response.status_code < 400 and response.has_header("Location"):
            response = HttpResponseLocation(response["Location"])
            patch_vary_headers(response, ("HX-Request",))
            return response
        if (
            response.streaming
            or response.status_code == 204
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        pending = messages.get_messages(request)
        if pending:
            response.write(render_to_string("_messages.html", {"messages": pending, "oob": True}))
        return response
