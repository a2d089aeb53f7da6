"""The check-in page's "Messages": the conversation with the workshop, a box to write
(with a photo), and the buttons to confirm or decline the appointment. Plain forms that
post and redirect, so they work without JavaScript. Thin: they call
`notifications.conversation`.
"""

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from notifications import conversation
from notifications.answers_words import Answer
from portal.decorators import portal_view, portal_view_until_closed
from portal.upload_views import UploadLimitHandler
from portal.uploads import refusals
from portal.views import page, step_url
from workshop.models import Appointment, OnlineCheckIn

MESSAGE_MAX = 2000


class MessageForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Your message"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photo = forms.FileField(label=gettext_lazy("Photo (optional)"), required=False)
    # New with every form shown: the same form posted twice writes one message.
    key = forms.CharField(
        widget=forms.HiddenInput, required=False, initial=lambda: str(uuid.uuid4())
    )

    def clean_body(self) -> str:
        return self.cleaned_data["body"].strip()

    def clean_key(self) -> str:
        try:
            return str(uuid.UUID(self.cleaned_data["key"]))
        except ValueError:
            return str(uuid.uuid4())


def _closed_for_writing(checkin: OnlineCheckIn) -> bool:
    return checkin.appointment.status != Appointment.Status.SCHEDULED


@portal_view_until_closed
@require_http_methods(["GET", "POST"])
def messages_page(request: HttpRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """The conversation; reachable after the appointment started, until it closes."""
    form = MessageForm()
    if request.method == "POST" and not _closed_for_writing(checkin):
        # Before the body is read: photos are checked as they stream in (portal.uploads).
        limiter = UploadLimitHandler(request)
        request.upload_handlers.insert(0, limiter)
        form = MessageForm(request.POST, request.FILES)
        for refused in limiter.refused:
            form.add_error("photo", refused)
        if form.is_valid():
            try:
                conversation.write_from_portal(
                    checkin,
                    form.cleaned_data["body"],
                    key=form.cleaned_data["key"],
                    photo=form.cleaned_data["photo"],
                )
            except refusals.UploadRejected as rejected:
                form.add_error("photo", rejected.message)
            else:
                messages.success(request, _("Your message is sent to the workshop."))
                return redirect(f"{step_url(checkin, 'messages')}#thread")
    return page(
        request,
        checkin,
        "messages",
        {
            "form": form,
            "thread": conversation.portal_thread(checkin.appointment),
            "can_write": not _closed_for_writing(checkin),
        },
        step="review",
        status=400 if form.errors else 200,
    )


@portal_view
@require_POST
def answer(request: HttpRequest, checkin: OnlineCheckIn) -> HttpResponse:
    """The buttons "I will come" and "I cannot come": as a one-word reply would."""
    meaning = {"yes": Answer.YES, "no": Answer.NO}.get(request.POST.get("answer", ""))
    if meaning is not None and conversation.answer(checkin.appointment, meaning):
        if meaning == Answer.YES:
            messages.success(request, _("Thank you, your appointment is confirmed."))
        else:
            messages.success(
                request, _("Thank you for letting us know. The workshop will be in touch.")
            )
    return redirect(f"{step_url(checkin, 'messages')}#answer")
