from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("twilio/status/<str:key>/", views.twilio_status, name="twilio_status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio_inbound"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/email/", views.outbox_email, name="outbox_email"),
]
