"""Writes the local demo's `.env`, which settings read (`make run` calls this first).

The first run makes the file with a fresh SECRET_KEY and the demo's switches; later runs
keep it and what anyone added to it, and only record the port the demo serves on and
its SITE_URL (when one is given), so every other command (`make link`, `make shell`,
`manage.py ...`) prints links that work.

Runs without Django settings: `python -m config.demo_env [path]`, reading PORT and
SITE_URL from the environment.
"""

import os
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values, set_key, unset_key

FIRST = """\
# The local demo's settings, written by `make run` (git-ignored; never used in production).
# Any variable of .env.example may go here; the real environment wins over this file.
# `make run` records PORT and SITE_URL each time it starts.
SECRET_KEY={secret_key}
DEMO_MODE=true
# Production-like: no debug pages, hashed and compressed static files.
DEBUG=false
# Plain http on this computer and the local network: no secure-only cookies, no redirect.
HTTPS=false
# Any address of this computer, so a phone on the same network can open the demo.
ALLOWED_HOSTS=*
"""

# What the demo needs; an older or hand-made file gets what it lacks, nothing is changed.
NEEDED = {"DEMO_MODE": "true", "DEBUG": "false", "HTTPS": "false", "ALLOWED_HOSTS": "*"}


def write_demo_env(path: Path, *, port: int, site_url: str = "") -> dict[str, str | None]:
    """Creates or updates the demo's env file; answers what it now holds."""
    if not path.exists():
        path.write_text(FIRST.format(secret_key=secrets.token_urlsafe(50)))
        path.chmod(0o600)  # it holds the secret key
    present = dotenv_values(path)
    needed = {"SECRET_KEY": secrets.token_urlsafe(50), **NEEDED}
    for key, value in needed.items():
        if not present.get(key):
            set_key(path, key, value, quote_mode="never")
    set_key(path, "PORT", str(port), quote_mode="never")
    if site_url:
        set_key(path, "SITE_URL", site_url, quote_mode="never")
    elif "SITE_URL" in present:
        unset_key(path, "SITE_URL", quote_mode="never")  # the port decides again
    return dotenv_values(path)


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / ".env"
    port = os.environ.get("PORT", "").strip() or "8000"
    if not port.isdigit():
        raise SystemExit(f"PORT must be a whole number, not {port!r}.")
    write_demo_env(path, port=int(port), site_url=os.environ.get("SITE_URL", "").strip())


if __name__ == "__main__":
    main(sys.argv)
