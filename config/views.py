"""Error pages in the reader's language (Django's own fallbacks are English only)."""

from django.http import HttpRequest, HttpResponse
from django.views.defaults import page_not_found as default_page_not_found


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Behind a customer's link the page looks like the portal; elsewhere like the staff UI."""
    template = "portal/not_found.html" if request.path.startswith("/c/") else "404.html"
    return default_page_not_found(request, exception, template_name=template)
