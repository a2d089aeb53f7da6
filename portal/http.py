"""HTTP plumbing shared by every response behind a customer link."""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers


def private_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Keeps a page behind a customer link out of search engines, caches and referrers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex"
        add_never_cache_headers(response)  # Cache-Control: ... no-store ..., private
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped
