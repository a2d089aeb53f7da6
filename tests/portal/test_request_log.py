"""The request log never holds a customer's link token, however it is written."""

import io
import logging

import pytest

from portal.logging import RedactCheckinLinks

TOKEN = "AbCd1234efGH5678ijKL90mn_-"


def logged(message: str, *args, exc_info=None) -> str:
    """What the console handler prints for one record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactCheckinLinks())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.request_log")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning(message, *args, exc_info=exc_info)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    "line",
    [
        f'"GET /c/{TOKEN}/contact/ HTTP/1.1" 200 1234',
        f'"GET /login/?next=%2Fc%2F{TOKEN}%2F HTTP/1.1" 302 0',
        f'"GET /login/?next=%2fc%2f{TOKEN}%2f HTTP/1.1" 302 0',
        f'"GET /login/?next=%252Fc%252F{TOKEN} HTTP/1.1" 302 0',  # encoded twice
        f"Referer: https://checkin.example.com/c/{TOKEN}/remarks/",
        f"next=https%3A%2F%2Fcheckin.example.com%2Fc%2F{TOKEN}",
        f"Not Found: /C/{TOKEN}/",
    ],
)
def test_a_token_is_blanked_however_the_link_is_written(line):
    text = logged("%s", line)
    assert TOKEN not in text
    assert "[redacted]" in text


def test_a_token_in_gunicorns_access_log_atoms_is_blanked():
    """Gunicorn logs with a dict of atoms: the request line, the referer, headers."""
    atoms = {"r": f"GET /c/{TOKEN}/ HTTP/1.1", "f": f"https://x.example/login/?next=%2Fc%2F{TOKEN}"}
    text = logged('"%(r)s" "%(f)s"', atoms)
    assert TOKEN not in text
    assert text.count("[redacted]") == 2


def test_a_token_in_a_traceback_is_blanked():
    try:
        raise ValueError(f"Bad request for /c/{TOKEN}/upload/")
    except ValueError as error:
        text = logged("Internal Server Error: %s", "/c/x/", exc_info=error)
    assert "Traceback" in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    "line",
    [
        '"GET /staff/appointments/12/?q=abc HTTP/1.1" 200 99',
        '"GET /login/?next=%2Fstaff%2Fappointments%2F12%2F HTTP/1.1" 302 0',
        "Not Found: /cars/abc/",
    ],
)
def test_other_paths_are_left_alone(line):
    assert logged("%s", line).strip() == line
