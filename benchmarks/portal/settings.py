"""The product's settings, with the benchmark's URLconf: the product's URLs plus a bare view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.portal.urls"
