"""The product's URLs and one bare view, the baseline the customer page is measured against.

Only the portal benchmark's settings (benchmarks/portal/settings.py) use this URLconf.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler404, urlpatterns  # noqa: F401 - handler404 is read from here


def bare(request: HttpRequest) -> HttpResponse:
    """A view that does nothing: what every request costs before a page does anything."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("benchmark/bare/", bare), *urlpatterns]
