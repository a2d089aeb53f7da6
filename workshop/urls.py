from django.urls import path

from workshop import conversation_views, views, visit_views

app_name = "workshop"

urlpatterns = [
    path("", views.appointment_list, name="appointments"),
    path("dealership/", views.switch_dealership, name="switch_dealership"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment"),
    path(
        "appointments/<int:pk>/items/<int:item_pk>/convert/",
        views.convert_item,
        name="convert_item",
    ),
    path(
        "appointments/<int:pk>/items/<int:item_pk>/add-work-item/",
        views.convert_offer,
        name="convert_offer",
    ),
    path(
        "appointments/<int:pk>/items/<int:item_pk>/handle/", views.handle_item, name="handle_item"
    ),
    path("appointments/<int:pk>/items/<int:item_pk>/share/", views.share_item, name="share_item"),
    path("appointments/<int:pk>/work-items/add/", views.add_work_item, name="add_work_item"),
    path(
        "appointments/<int:pk>/work-items/<int:work_item_pk>/edit/",
        views.edit_work_item,
        name="edit_work_item",
    ),
    path(
        "appointments/<int:pk>/work-items/<int:work_item_pk>/remove/",
        views.remove_work_item,
        name="remove_work_item",
    ),
    path("appointments/<int:pk>/link/rotate/", views.rotate_link, name="rotate_link"),
    path(
        "appointments/<int:pk>/invitation/resend/",
        views.resend_invitation,
        name="resend_invitation",
    ),
    path("appointments/<int:pk>/reply/", conversation_views.reply, name="reply"),
    path("appointments/<int:pk>/read/", conversation_views.mark_read, name="mark_read"),
    path(
        "appointments/<int:pk>/decline-handled/",
        conversation_views.decline_handled,
        name="decline_handled",
    ),
    path("inbox/", conversation_views.inbox, name="inbox"),
    path("inbox/alerts/", conversation_views.message_alerts, name="message_alerts"),
    path("inbox/<int:message_pk>/attach/", conversation_views.attach, name="attach_message"),
    path("appointments/<int:pk>/job-card.pdf", views.job_card, name="job_card"),
    path("attachments/<int:pk>/<str:variant>/", views.attachment_file, name="attachment"),
    path("workshop/", views.workshop_day, name="workshop_day"),
    path(
        "workshop/appointments/<int:pk>/",
        views.workshop_appointment,
        name="workshop_appointment",
    ),
    # The visit (workshop.visit_views).
    path("appointments/<int:pk>/visit/<str:step>/", visit_views.visit_step, name="visit_step"),
    path("arrived/", visit_views.arrive_from_list, name="arrive_from_list"),
]
