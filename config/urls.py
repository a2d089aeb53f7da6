from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config import views
from integrations.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="workshop:appointments"), name="home"),
    path("login/", views.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/import/", include("integrations.urls")),
    path("staff/calls/", include("followups.urls")),
    path("staff/", include("workshop.urls")),
    path("api/v1/", api.urls),
    path("c/", include("portal.urls")),
    path("notifications/", include("notifications.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler404 = "config.views.page_not_found"
