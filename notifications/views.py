"""Provider webhooks (Twilio delivery status, inbound SMS) and the demo outbox."""

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from notifications import delivery
from notifications.models import Message
from notifications.transports import twilio_signature_valid
from workshop.access import is_mechanic, staff_access
from workshop.models import Channel

OUTBOX_PAGE_SIZE = 50
MAX_MEDIA = 10  # Twilio's own limit per MMS
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _signed_by_twilio(request: HttpRequest) -> bool:
    # Twilio signs the URL it called, which is ours as configured: SITE_URL plus the path.
    url = settings.SITE_URL + request.get_full_path()
    return twilio_signature_valid(
        settings.TWILIO_AUTH_TOKEN,
        url,
        request.POST,
        request.headers.get("X-Twilio-Signature", ""),
    )


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, key: str) -> HttpResponse:
    """Twilio reports a message's delivery status (the StatusCallback we gave it)."""
    if not _signed_by_twilio(request):
        return HttpResponseForbidden("Invalid signature")
    message = get_object_or_404(Message, callback_key=key, direction=Message.Direction.OUT)
    delivery.record_status(
        message,
        request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
        provider_id=request.POST.get("MessageSid", ""),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS a customer sent to our number; we answer with empty TwiML (no reply)."""
    if not _signed_by_twilio(request):
        return HttpResponseForbidden("Invalid signature")
    try:
        pictures = min(int(request.POST.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        pictures = 0
    delivery.record_inbound(
        sender=request.POST.get("From", ""),
        to=request.POST.get("To", ""),
        body=request.POST.get("Body", ""),
        provider_id=request.POST.get("MessageSid", ""),
        media_urls=[url for n in range(pictures) if (url := request.POST.get(f"MediaUrl{n}", ""))],
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _outbox_messages(request: HttpRequest):
    """Messages of the dealerships where the user works in the office.

    Links, phone numbers, e-mail addresses and prices are not for mechanics: a user who
    is a mechanic everywhere gets a 404, as on every page with contact details.
    """
    if not settings.DEMO_MODE:
        raise Http404("The outbox is part of the demo only.")
    messages = Message.objects.outbound()
    if request.user.is_superuser:
        return messages
    office = [m.dealership_id for m in staff_access(request).memberships if not is_mechanic(m)]
    if not office:
        raise Http404("Not for mechanics")
    return messages.filter(appointment__dealership_id__in=office)


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """Every message the demo "sent", newest first, as the customer would get it."""
    messages = _outbox_messages(request).select_related(
        "appointment__dealership", "appointment__vehicle", "customer"
    )
    page = Paginator(messages.order_by("-queued_at", "-pk"), OUTBOX_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return TemplateResponse(request, "notifications/outbox.html", {"page": page})


@login_required
@require_GET
@csp_replace(  # type: ignore[arg-type]  # django-csp types only views of the request alone
    {
        "default-src": [NONE],
        "style-src": [UNSAFE_INLINE],
        "img-src": [SELF, "https:", "http:", "data:"],
        "script-src": [NONE],
        "form-action": [NONE],
    }
)
def outbox_email(request: HttpRequest, pk: int) -> HttpResponse:
    """An e-mail's HTML as the customer's mail program shows it (inline styles and all)."""
    message = get_object_or_404(_outbox_messages(request), pk=pk, channel=Channel.EMAIL)
    return HttpResponse(message.html_body or "<p>(no HTML part)</p>")
