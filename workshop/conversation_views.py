"""Staff's side of the conversation: replying from the appointment page, reading the
customer's messages, handling a decline, and the inbox of messages that matched no
appointment. Thin: they check access and call `notifications.conversation`.

Receptionists and managers only (`get_appointment` with `office_only`): a mechanic
never sees the conversation.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from notifications import conversation
from notifications.models import Message
from workshop import views
from workshop.access import StaffAccess, get_appointment, staff_access
from workshop.forms import ReplyForm
from workshop.models import Appointment, Membership

INBOX_SIZE = 100


def _back(request, appointment: Appointment) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = views.CHANGED_EVENT
        return response
    return redirect("workshop:appointment", pk=appointment.pk)


@login_required
@require_POST
def reply(request, pk: int) -> HttpResponse:
    appointment, access = get_appointment(staff_access(request), pk)
    form = ReplyForm(request.POST, appointment=appointment)
    if form.is_valid():
        try:
            conversation.send_reply(
                appointment,
                user=request.user,
                channel=form.cleaned_data["channel"],
                body=form.cleaned_data["body"],
            )
        except conversation.ReplyRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, _("Your answer is on its way."))
            return _back(request, appointment)
    template = views.APPOINTMENT_PAGE + ("#reply_form" if request.htmx else "")
    context = {"appointment": appointment, "reply_form": form}
    if not request.htmx:  # the whole page, with the form as it was posted
        context = {**views.appointment_context(appointment), **context}
    response = views.page(request, access, template, context)
    response.status_code = 400
    return response


@login_required
@require_POST
def mark_read(request, pk: int) -> HttpResponse:
    appointment, _access = get_appointment(staff_access(request), pk)
    conversation.mark_read(appointment, request.user)
    return _back(request, appointment)


@login_required
@require_POST
def decline_handled(request, pk: int) -> HttpResponse:
    appointment, _access = get_appointment(staff_access(request), pk)
    if conversation.handle_decline(appointment, request.user):
        messages.success(request, _("The decline is handled."))
    return _back(request, appointment)


# --- The inbox of unmatched messages ----------------------------------------------------------


class AttachForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Appointment reference"),
        max_length=64,
        help_text=gettext_lazy("The DMS reference of the appointment this message is about."),
    )

    def __init__(self, *args, dealership_id: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dealership_id = dealership_id
        self.appointment: Appointment | None = None

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"].strip()
        self.appointment = (
            Appointment.objects.select_related("dealership", "customer", "vehicle", "checkin")
            .filter(dealership_id=self.dealership_id, external_ref__iexact=reference)
            .first()
        )
        if self.appointment is None:
            raise forms.ValidationError(_("No appointment here has this reference."))
        return reference


def _inbox_page(request, access: StaffAccess, forms_by_message: dict[int, AttachForm]):
    waiting = list(
        Message.objects.unmatched([access.dealership.pk])
        .select_related("customer")
        .order_by("-queued_at", "-pk")[:INBOX_SIZE]
    )
    rows = [
        (
            message,
            forms_by_message.get(message.pk)
            or AttachForm(dealership_id=access.dealership.pk, prefix=f"m{message.pk}"),
        )
        for message in waiting
    ]
    return views.page(
        request,
        access,
        "workshop/inbox.html",
        {"nav": "inbox", "rows": rows, "limit": INBOX_SIZE},
    )


@login_required
@require_http_methods(["GET"])
def inbox(request) -> TemplateResponse:
    access = staff_access(request)
    access.require_office()
    return _inbox_page(request, access, {})


@login_required
@require_POST
def attach(request, message_pk: int) -> HttpResponse:
    access = staff_access(request)
    access.require_office()
    message = get_object_or_404(Message.objects.unmatched([access.dealership.pk]), pk=message_pk)
    form = AttachForm(request.POST, dealership_id=access.dealership.pk, prefix=f"m{message.pk}")
    if form.is_valid() and form.appointment is not None:
        conversation.attach(message, form.appointment, request.user)
        messages.success(request, _("The message is with the appointment now."))
        return redirect("workshop:appointment", pk=form.appointment.pk)
    response = _inbox_page(request, access, {message.pk: form})
    response.status_code = 400
    return response


@login_required
@require_POST
def message_alerts(request) -> HttpResponse:
    """An advisor chooses whether to get an e-mail when a customer of theirs writes (in
    the dealership they work in now)."""
    access = staff_access(request)
    access.require_office()
    wanted = request.POST.get("email_on_customer_message") == "on"
    Membership.objects.filter(pk=access.membership.pk).update(email_on_customer_message=wanted)
    if wanted:
        messages.success(request, _("You get an e-mail when a customer of yours writes."))
    else:
        messages.success(request, _("You no longer get e-mails when customers write."))
    return redirect("workshop:inbox")
