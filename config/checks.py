"""The project's own deploy checks: `manage.py check --deploy` names what is demo-only.

The embedded defaults (SQLite, a local-memory cache, http on 127.0.0.1, the demo) keep
`make run` working on a bare machine, and plain `check` quiet there; a deployment that
kept any of them gets a warning here.
"""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django_ratelimit.checks import KNOWN_BROKEN_CACHE_BACKENDS


@register(Tags.security, deploy=True)
def check_production_settings(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    if settings.DEMO_MODE:
        warnings.append(
            Warning(
                "DEMO_MODE is on: the login page shows the demo log-ins and the outbox "
                "page shows customers' messages and links.",
                hint="Set DEMO_MODE=false.",
                id="pitlane.W001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        warnings.append(
            Warning(
                "The database is SQLite, the embedded default for one machine.",
                hint="Set DATABASE_URL to PostgreSQL (postgres://user@host:5432/name).",
                id="pitlane.W002",
            )
        )
    if settings.SITE_URL.startswith("http://"):
        warnings.append(
            Warning(
                f"SITE_URL is plain http ({settings.SITE_URL}): customers' links, which are "
                "their only credential, would travel unencrypted.",
                hint="Set SITE_URL to the site's https:// address.",
                id="pitlane.W003",
            )
        )
    cache = settings.CACHES[getattr(settings, "RATELIMIT_USE_CACHE", "default")]["BACKEND"]
    if cache in KNOWN_BROKEN_CACHE_BACKENDS:
        # django_ratelimit.E003 says the same, silenced for the embedded default.
        warnings.append(
            Warning(
                f"The rate limits' cache ({cache}) is not shared: each web process counts "
                "on its own, so the portal's limit multiplies with the processes.",
                hint="Set CACHE_URL to Redis (redis://host:6379/2).",
                id="pitlane.W004",
            )
        )
    return warnings
