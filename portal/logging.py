import logging
import re

# /c/<token> and anything below it; the token is the customer's secret.
_CHECKIN_LINK = re.compile(r"(/c/)[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    return _CHECKIN_LINK.sub(r"\1[redacted]", text)


class RedactCheckinLinks(logging.Filter):
    """Blanks out check-in tokens in log records (access logs, errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {
                    k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
                }
        return True
