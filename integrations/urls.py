from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.upload, name="import"),
    path("confirm/", views.confirm, name="import_confirm"),
    path("cancel/", views.cancel, name="import_cancel"),
]
