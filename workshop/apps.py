from django.apps import AppConfig


class WorkshopConfig(AppConfig):
    verbose_name = "Workshop"
    name = "workshop"
    default_auto_field = "django.db.models.BigAutoField"
