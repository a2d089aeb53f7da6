from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Registers the tasks in every process, so the web can queue them by name.
        from integrations import tasks  # noqa: F401
