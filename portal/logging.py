import logging
import re

# /c/<token> and anything below it; the token is the customer's secret. Links are also
# logged percent-encoded, once or twice (`?next=%2Fc%2F<token>`, `%252F`), in any case.
_SLASH = r"(?:/|%2F|%252F)"
_CHECKIN_LINK = re.compile(rf"({_SLASH}c{_SLASH})[A-Za-z0-9_-]+", re.IGNORECASE)


def redact(text: str) -> str:
    return _CHECKIN_LINK.sub(r"\1[redacted]", text)


class RedactCheckinLinks(logging.Filter):
    """Blanks out check-in tokens in log records (access logs, errors, tracebacks).

    The record is redacted as it will be printed: the message with its arguments filled
    in (whatever their type: gunicorn passes a dict of request atoms, others objects
    whose text holds a URL), and the traceback's text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record: logging reports it as it would
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
