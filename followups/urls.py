from django.urls import path

from followups import views

app_name = "followups"

urlpatterns = [
    path("", views.calls, name="calls"),
    path("count/", views.count, name="count"),
    path("<int:pk>/", views.call, name="call"),
    path("<int:pk>/details/", views.details, name="details"),
    path("<int:pk>/close/", views.close, name="close"),
    path("appointments/<int:pk>/add/", views.add, name="add"),
]
