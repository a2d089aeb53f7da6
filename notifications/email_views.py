"""The webhook door for inbound e-mail: /notifications/inbound/email/<provider>/.

Each provider posts in its own shape; django-anymail's inbound view for it checks the
basic auth (ANYMAIL_WEBHOOK_SECRET) and the provider's own signature where it has one,
and turns the post into an `AnymailInboundMessage`. Instead of anymail's signal, the
view hands each message straight to `store_inbound_email`.
"""

from functools import cache

from anymail import urls as anymail_urls
from anymail.signals import AnymailInboundEvent
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from notifications.email_in import store_inbound_email


class _Store:
    """Stands where anymail's `inbound` signal would: the view calls `send` per event."""

    def send(self, sender: object, event: AnymailInboundEvent, esp_name: str) -> None:
        message = event.message
        assert message is not None
        store_inbound_email(
            message.as_bytes(),
            envelope_recipients=[message.envelope_recipient or ""],
        )


@cache
def inbound_views() -> dict:
    """anymail's inbound webhook view for each provider it supports, by its URL name."""
    views = {}
    for pattern in anymail_urls.urlpatterns:
        name = getattr(pattern, "name", "") or ""
        if name.endswith("_inbound_webhook"):
            provider = name.removesuffix("_inbound_webhook")
            views[provider] = pattern.callback.view_class.as_view(signal=_Store())
    return views


@csrf_exempt
def inbound_email(request: HttpRequest, provider: str) -> HttpResponse:
    # Without a secret anyone could post us mail in a customer's name: the door is shut.
    view = inbound_views().get(provider)
    if view is None or not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        raise Http404("No inbound e-mail webhook here.")
    # A mail with a few photos is larger than Django reads into `request.body` (2.5 MB,
    # DATA_UPLOAD_MAX_MEMORY_SIZE, kept for every other view): a provider's JSON is read
    # here up to our own limit. (Multipart posts carry the attachments as files, which
    # that limit does not count.)
    limit = settings.INBOUND_EMAIL_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return HttpResponse("Too large", status=413)
    if request.content_type != "multipart/form-data":
        request._body = request.read(limit + 1)  # what `request.body` would keep
        if len(request._body) > limit:
            return HttpResponse("Too large", status=413)
    return view(request)
