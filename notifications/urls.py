from django.urls import path

from notifications import email_views, views

app_name = "notifications"
urlpatterns = [
    path("twilio/status/<str:key>/", views.twilio_status, name="twilio_status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio_inbound"),
    path("inbound/email/<str:provider>/", email_views.inbound_email, name="inbound_email"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/email/", views.outbox_email, name="outbox_email"),
]
