from django.apps import AppConfig


class PitlaneConfig(AppConfig):
    """The project's own wiring: the log-in hook and the deploy checks."""

    name = "config"
    verbose_name = "Pitlane"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from config.sessions import end_session_after_a_working_day

        # At the log-in, whichever view (staff, admin) did it: no request-level hook sees
        # every log-in, and this is auth plumbing, not domain flow.
        user_logged_in.connect(end_session_after_a_working_day, dispatch_uid="pitlane-session-end")
        # Registers the deploy checks.
        from config import checks  # noqa: F401
