from django.urls import path, re_path

from portal import conversation_views, upload_views, views, visit_views

app_name = "portal"

_files = "<str:token>/remarks/<int:remark_id>/files/"

urlpatterns = [
    re_path(r"^theme/(?P<colour>[0-9a-f]{6})\.css$", views.theme, name="theme"),
    path("logo/<slug:slug>/<str:name>", views.logo, name="logo"),
    # The link as sent (no trailing slash, to keep the SMS short) opens at once, no redirect.
    path("<str:token>", views.welcome, name="link"),
    path("<str:token>/", views.welcome, name="welcome"),
    path("<str:token>/contact/", views.contact, name="contact"),
    path("<str:token>/details/", views.details, name="details"),
    path("<str:token>/work/", views.work, name="work"),
    path("<str:token>/services/", views.services, name="services"),
    path("<str:token>/remarks/", views.remarks, name="remarks"),
    path("<str:token>/remarks/<int:remark_id>/", views.remark_edit, name="remark_edit"),
    path("<str:token>/remarks/<int:remark_id>/delete/", views.remark_delete, name="remark_delete"),
    path("<str:token>/review/", views.review, name="review"),
    path("<str:token>/done/", views.done, name="done"),
    path("<str:token>/messages/", conversation_views.messages_page, name="messages"),
    path("<str:token>/answer/", conversation_views.answer, name="answer"),
    path("<str:token>/language/", views.language, name="language"),
    path("<str:token>/seen/", views.seen, name="seen"),
    # The visit: cancel, another date, the rating (portal.visit_views).
    path("<str:token>/cancel/", visit_views.cancel, name="cancel"),
    path("<str:token>/another-date/", visit_views.other_date, name="other_date"),
    path("<str:token>/rate/", visit_views.rate, name="rate"),
    path("<str:token>/calendar.ics", views.calendar, name="calendar"),
    # Photos and videos on a draft remark.
    path(_files, upload_views.remark_files, name="remark_files"),
    path(f"{_files}upload/", upload_views.upload, name="upload"),
    path(f"{_files}presign/", upload_views.presign, name="upload_presign"),
    path(f"{_files}<int:attachment_id>/complete/", upload_views.complete, name="upload_complete"),
    path(f"{_files}<int:attachment_id>/remove/", upload_views.remove, name="attachment_remove"),
    path(
        "<str:token>/files/<int:attachment_id>/thumbnail/",
        upload_views.thumbnail,
        name="attachment_thumbnail",
    ),
]
