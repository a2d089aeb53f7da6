"""Reading one inbound e-mail from its raw MIME bytes: who wrote it, to which address,
what it says that is new, what it carries, and whether a person wrote it at all.

Pure: no database, no storage. `notifications.email_in` stores what this finds.
"""

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message, MIMEPart
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from notifications.reply_to import key_in

NORMAL, AUTO_REPLY, BOUNCE = "normal", "auto_reply", "bounce"

# The languages whose reply headers ("On ... wrote:", "Op ... schreef:", "Van:") and
# signatures the reply parser strips: our customers' four.
REPLY_LANGUAGES = ["en", "nl", "fr", "de"]

# Out-of-office subjects, in our customers' languages, for the mail programs that set
# none of the RFC 3834 headers.
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:"
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|away from the office"
    r"|afwezig|automatisch antwoord|niet aanwezig|buiten kantoor|afwezigheidsmelding"
    r"|absence|absent|r[ée]ponse automatique|absent du bureau|absente du bureau"
    r"|abwesenheitsnotiz|abwesend|automatische antwort|nicht im b[üu]ro|ich bin nicht im b[üu]ro"
    r")\b",
    re.IGNORECASE,
)
BOUNCE_SENDERS = re.compile(r"^(?:mailer-daemon|postmaster)@", re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery failure|mail delivery failed"
    r"|returned mail|failure notice|onbestelbaar|non remis|unzustellbar",
    re.IGNORECASE,
)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Part:
    """A file the mail carries (not yet checked: see `email_in`)."""

    name: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    message_id: str
    sender: str
    sender_name: str
    recipients: list[str]
    subject: str
    full_text: str
    new_text: str
    kind: str
    in_reply_to: str = ""
    reply_keys: list[str] = field(default_factory=list)
    attachments: list[Part] = field(default_factory=list)
    # A bounce: the Message-IDs of the mails it reports as not delivered, and why.
    bounced_ids: list[str] = field(default_factory=list)
    bounced_recipients: list[str] = field(default_factory=list)
    bounce_reason: str = ""

    @property
    def reply_key(self) -> str:
        return self.reply_keys[0] if self.reply_keys else ""


def once_key(raw: bytes, message_id: str) -> str:
    """What makes a mail the same mail when it comes twice: its Message-ID, else its
    bytes. 64 characters, as `Message.provider_id` holds."""
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(message: Message, *names: str) -> list[str]:
    values = []
    for name in names:
        try:
            values += [str(v) for v in message.get_all(name, [])]
        except (ValueError, IndexError):
            continue
    return [address.lower() for _name, address in getaddresses(values) if "@" in address]


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


class _HtmlText(HTMLParser):
    """An HTML mail as plain text: blocks on lines of their own, quoted blocks with "> "
    (so the reply parser sees them as quotes), links' targets kept, scripts and styles not."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote = 0
        self.skip = 0
        self.href = ""

    def _break(self) -> None:
        if self.lines[-1].strip("> "):
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self._break()
            self.quote += 1
        elif tag in self.BLOCKS:
            self._break()
        elif tag == "a":
            self.href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "blockquote":
            self._break()
            self.quote = max(self.quote - 1, 0)
        elif tag in self.BLOCKS:
            self._break()
        elif tag == "a" and self.href:
            if self.href.startswith("http") and self.href not in self.lines[-1]:
                self.handle_data(f" ({self.href})")
            self.href = ""

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data)
        if not text.strip() and not self.lines[-1]:
            return
        if not self.lines[-1]:
            self.lines[-1] = "> " * self.quote
            text = text.lstrip()
        self.lines[-1] += text

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).strip()


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


def new_text_of(text: str) -> str:
    """What is new in a reply: without the quoted history and the signature."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        replies = EmailReplyParser(languages=REPLY_LANGUAGES).read(text).replies
    except Exception:  # a library's regex on a stranger's text: never lose the mail over it
        return text
    if not replies:
        return text
    # Without its signature; a reply that is nothing but a signature keeps it.
    return replies[0].body or replies[0].content or text


def _kind(message: Message, sender: str, subject: str) -> str:
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and report_type == "delivery-status":
        return BOUNCE
    if BOUNCE_SENDERS.match(sender) and BOUNCE_SUBJECT.search(subject):
        return BOUNCE
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return AUTO_REPLY
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return AUTO_REPLY
    if _header(message, "Precedence").lower() in ("auto_reply", "bulk", "junk"):
        return AUTO_REPLY
    if AUTO_REPLY_SUBJECT.match(subject):
        return AUTO_REPLY
    return NORMAL


def _bounce_details(message: Message) -> tuple[list[str], list[str], str]:
    """The Message-IDs of the returned mails (from the report's copy of their headers, or
    the bounce's own In-Reply-To and References), the addresses that failed and the
    reason the report gives."""
    ids: list[str] = []
    failed: list[str] = []
    reasons: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            # Its payload is a list of header blocks: the message's, then one a recipient.
            for block in part.get_payload() or []:
                if not isinstance(block, Message):
                    continue
                status = _header(block, "Status")
                diagnostic = _header(block, "Diagnostic-Code")
                recipient = _header(block, "Final-Recipient").partition(";")[2].strip()
                if recipient and _header(block, "Action").lower() == "failed":
                    failed.append(recipient.strip("<>").lower())
                if status or diagnostic:
                    reasons.append(" ".join(filter(None, [recipient, status, diagnostic])))
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            if content_type == "message/rfc822":
                inner = part.get_payload()
                original = inner[0] if isinstance(inner, list) and inner else None
            else:
                headers = part.get_payload(decode=True)
                original = message_from_bytes(
                    headers if isinstance(headers, bytes) else b"", policy=policy.default
                )
            if isinstance(original, Message):
                ids += MESSAGE_ID.findall(_header(original, "Message-ID"))
    ids += MESSAGE_ID.findall(_header(message, "In-Reply-To"))
    ids += MESSAGE_ID.findall(_header(message, "References"))
    return list(dict.fromkeys(ids)), list(dict.fromkeys(failed)), "; ".join(reasons)


def _file_name(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except (ValueError, IndexError):
        name = None
    if name:
        return str(name)
    extension = part.get_content_subtype() if part.get_content_maintype() != "application" else ""
    return f"attachment-{index}" + (f".{extension}" if extension else "")


def _attachments(message: Message, body: Message | None) -> list[Part]:
    """Every file in the mail: attachments, inline pictures, anything not the text we read.

    A bounce's copy of the returned mail (message/*) is not a file the customer sent."""
    parts: list[Part] = []
    for part in message.walk():
        if part is body or part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type.startswith("message/") or content_type == "text/rfc822-headers":
            continue
        disposition = part.get_content_disposition()
        is_file = disposition == "attachment" or part.get_content_maintype() in (
            "image",
            "video",
            "application",
            "audio",
        )
        if content_type in ("text/plain", "text/html") and disposition != "attachment":
            continue  # the other alternative of the text we read
        if not is_file:
            continue
        data = part.get_payload(decode=True)
        parts.append(
            Part(
                _file_name(part, len(parts) + 1),
                content_type,
                data if isinstance(data, bytes) else b"",
            )
        )
    return parts


def parse(raw: bytes, *, envelope_recipients: list[str] | None = None) -> ParsedEmail:
    """Everything we keep of one raw e-mail. Never raises on a strange mail: what cannot
    be read is left empty, and the raw bytes are kept by the caller."""
    message = message_from_bytes(raw, policy=policy.default)
    name, sender = parseaddr(_header(message, "Reply-To") or _header(message, "From"))
    from_name, from_address = parseaddr(_header(message, "From"))
    sender = (from_address or sender).lower()
    subject = _header(message, "Subject")[:200]
    message_id = "".join(MESSAGE_ID.findall(_header(message, "Message-ID"))[:1])
    recipients = list(
        dict.fromkeys(
            [
                *(address.lower() for address in envelope_recipients or []),
                *_addresses(
                    message, "Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc", "Bcc"
                ),
            ]
        )
    )
    kind = _kind(message, sender, subject)
    body: Message | None = None
    if isinstance(message, EmailMessage):
        body = message.get_body(preferencelist=("plain", "html"))
    full_text = ""
    if body is not None:
        full_text = _text_of(body)
        if body.get_content_type() == "text/html":
            full_text = html_to_text(full_text)
    elif not message.is_multipart():
        full_text = _text_of(message)
    full_text = full_text.replace("\r\n", "\n").strip()
    parsed = ParsedEmail(
        message_id=message_id,
        sender=sender,
        sender_name=from_name or name,
        recipients=recipients,
        subject=subject,
        full_text=full_text,
        new_text=full_text if kind == BOUNCE else new_text_of(full_text),
        kind=kind,
        in_reply_to="".join(MESSAGE_ID.findall(_header(message, "In-Reply-To"))[:1]),
        reply_keys=[key for key in map(key_in, recipients) if key],
    )
    if kind == BOUNCE:
        parsed.bounced_ids, parsed.bounced_recipients, parsed.bounce_reason = _bounce_details(
            message
        )
    else:
        parsed.attachments = _attachments(message, body)
    return parsed
