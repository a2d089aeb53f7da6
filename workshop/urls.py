from django.urls import path

from workshop import views

app_name = "workshop"

urlpatterns = [
    path("", views.appointment_list, name="appointments"),
    path("dealership/", views.switch_dealership, name="switch_dealership"),
]
