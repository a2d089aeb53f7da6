"""The project's URLs plus two baselines: a bare view (Django and the middleware alone), and
the same behind the staff log-in (session, user and memberships: what every staff page
pays before its own work)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from workshop.access import staff_access


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@login_required
def signed_in(request: HttpRequest) -> HttpResponse:
    staff_access(request)
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), path("bench/signed-in/", signed_in), *project_urlpatterns]
