"""The log-in page, and error pages in the reader's language (Django's are English only)."""

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.defaults import page_not_found as default_page_not_found


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Behind a customer's link the page looks like the portal; elsewhere like the staff UI."""
    template = "portal/not_found.html" if request.path.startswith("/c/") else "404.html"
    return default_page_not_found(request, exception, template_name=template)


def login(request: HttpRequest) -> HttpResponseBase:
    """Django's log-in page; in demo mode it also lists what there is to try."""
    context = {}
    if settings.DEMO_MODE:
        from workshop.demo import DEMO_PASSWORD, DEMO_USERS, tour

        context = {
            "demo_tour": tour(),
            "demo_users": list(DEMO_USERS),
            "demo_password": DEMO_PASSWORD,
        }
    view = LoginView.as_view(redirect_authenticated_user=True, extra_context=context)
    return view(request)
