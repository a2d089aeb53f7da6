app_name = "portal"
urlpatterns: list = []

# --- Photos and videos on a draft remark (portal/upload_views.py) ---------------------
from django.urls import path  # noqa: E402

from portal import upload_views  # noqa: E402

_files = "<str:token>/remarks/<int:remark_id>/files/"
urlpatterns += [
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
