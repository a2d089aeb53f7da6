"""Reading the DMS's CSV file as records for `integrations.imports`, streamed.

One row per planned work line, the appointment's columns repeated on each; the rows of
one appointment follow each other. The encoding (UTF-8 with or without a BOM, else
Windows-1252) and the separator (comma, semicolon, tab or bar) are found from the start
of the file; a decimal comma in prices is read by the UI's own money field. A problem is
reported with its line and column, and reading goes on, so one pass finds them all.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from integrations.imports import (
    APPOINTMENT_COLUMNS,
    COLUMNS,
    REQUIRED,
    Outcome,
    Problem,
    Record,
    WorkLine,
)

SAMPLE_BYTES = 64 * 1024


class ByteStream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


SEPARATORS = ",;\t|"


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # Not final: the sample may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def detect_separator(header: str) -> str:
    """The separator the header line uses most (a column name holds none of them)."""
    return max(SEPARATORS, key=header.count)


def _column_name(text: str) -> str:
    return "_".join(text.strip().strip('"').casefold().split())


class _Prefixed(io.RawIOBase):
    """The bytes already read to look at, then the rest of the stream."""

    def __init__(self, prefix: bytes, stream: ByteStream) -> None:
        self.prefix = prefix
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        wanted = len(buffer)
        if self.prefix:
            chunk, self.prefix = self.prefix[:wanted], self.prefix[wanted:]
        else:
            chunk = self.stream.read(wanted)
        buffer[: len(chunk)] = chunk
        return len(chunk)


class CsvReader:
    """Iterates over the file's records; problems with the file itself go to `outcome`."""

    def __init__(self, stream: ByteStream, outcome: Outcome) -> None:
        self.outcome = outcome
        sample = stream.read(SAMPLE_BYTES)
        self.encoding = detect_encoding(sample)
        buffered = io.BufferedReader(_Prefixed(sample, stream))
        self.text = io.TextIOWrapper(buffered, encoding=self.encoding, newline="")
        self.separator = ","

    def _problem(self, line: int, column: str, message) -> None:
        self.outcome.problem(Problem(line, column, message))

    def __iter__(self) -> Iterator[Record]:
        try:
            header_line = self.text.readline()
        except UnicodeDecodeError:
            self._problem(1, "-", _("The file is not text in UTF-8 or Windows-1252."))
            return
        if not header_line.strip():
            self._problem(1, "-", _("The file is empty."))
            return
        self.separator = detect_separator(header_line)
        header = [
            _column_name(name) for name in next(csv.reader([header_line], delimiter=self.separator))
        ]
        missing = [name for name in REQUIRED if name not in header]
        for name in missing:
            self._problem(1, name, _("This column is missing from the first line."))
        unknown = [name for name in header if name and name not in COLUMNS]
        for name in unknown:
            self._problem(
                1,
                name,
                _("Unknown column. The columns are: %(columns)s.")
                % {"columns": ", ".join(COLUMNS)},
            )
        if missing or unknown:
            return
        yield from self._records(header)

    def _records(self, header: list[str]) -> Iterator[Record]:
        rows = csv.reader(self.text, delimiter=self.separator)
        current: Record | None = None
        line = 1
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except UnicodeDecodeError:
                self._problem(
                    line + 1,
                    "-",
                    _("This line is not in the file's encoding (%(encoding)s).")
                    % {"encoding": self.encoding},
                )
                return
            except csv.Error as error:
                self._problem(
                    rows.line_num + 1,
                    "-",
                    _("This line cannot be read: %(error)s") % {"error": error},
                )
                return
            line = rows.line_num + 1  # the header was line 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                self._problem(
                    line, "-", _("This line has more values than the first line has columns.")
                )
                continue
            values = dict(zip(header, row, strict=False))
            work = WorkLine(
                line=line,
                description=values.get("work_description", ""),
                notes=values.get("work_notes", ""),
                price=values.get("work_price", ""),
            )
            reference = values.get("reference", "").strip()
            appointment = {name: values.get(name, "").strip() for name in APPOINTMENT_COLUMNS}
            if current is not None and reference and reference == current.reference:
                for name in APPOINTMENT_COLUMNS:
                    if appointment[name] != current.values[name]:
                        self._problem(
                            line,
                            name,
                            _("Differs from line %(line)s of the same appointment.")
                            % {"line": current.line},
                        )
                current.work.append(work)
                continue
            if current is not None:
                yield current
            current = Record(line=line, values=appointment, work=[work])
        if current is not None:
            yield current
