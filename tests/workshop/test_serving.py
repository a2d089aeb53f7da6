"""Byte ranges as a video player asks for them (`workshop.serving.byte_range`)."""

import pytest

from workshop.serving import byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-", (0, 999)),
        ("bytes=0-1", (0, 1)),
        ("bytes=500-2000", (500, 999)),  # past the end: up to the last byte
        ("bytes=-100", (900, 999)),  # the last 100 bytes
        ("bytes=-5000", (0, 999)),
        ("bytes=1000-", "unsatisfiable"),
        ("bytes=10-5", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file is a valid answer
        ("items=0-1", None),
    ],
)
def test_a_range_header_names_the_bytes_to_send(header, expected):
    assert byte_range(header, 1000) == expected
