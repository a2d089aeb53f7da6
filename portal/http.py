"""HTTP plumbing shared by every response behind a customer link."""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponseForbidden
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt

View = Callable[..., HttpResponseBase]


def private_page(view: View) -> View:
    """Keeps a page behind a customer link out of search engines, caches and referrers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex"
        add_never_cache_headers(response)  # Cache-Control: ... no-store ..., private
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


# Fetch Metadata: where the browser says a request came from.
_OWN_SITE = {"same-origin", "none"}


def link_csrf_protect(view: View) -> View:
    """CSRF protection for a POST to a URL that carries the customer's secret token.

    Django's CSRF check cannot work behind `Referrer-Policy: no-referrer`: with it, a
    browser posting a plain form sends `Origin: null` and no Referer, which Django
    refuses (over HTTPS it demands a Referer). Here the URL itself is the secret: a
    forged request needs the token, and whoever has the token has the page. On top,
    a browser that says the post comes from another site (`Sec-Fetch-Site`) is refused.
    """

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in _OWN_SITE:
            return HttpResponseForbidden()
        return view(request, *args, **kwargs)

    return wrapped
