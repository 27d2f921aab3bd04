"""E-mail out: composing a multipart/alternative message and sending it over SMTP with the
standard library (`smtplib`), with the host, port, TLS mode and credentials of the settings."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from service.settings import Settings


def compose(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str,
    sent_at: datetime,
    reference: str,
) -> EmailMessage:
    """A message with a plain-text and an HTML part and RFC 8058 one-click unsubscribe
    headers. `reference` (the digest's request id) goes into a header and the Message-ID."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    domain = parseaddr(settings.mail_from)[1].partition("@")[2] or "paperfeed.invalid"
    message["Message-ID"] = make_msgid(idstring=reference, domain=domain)
    # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the URL, no login.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Paperfeed-Request-Id"] = reference
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def describe(exc: BaseException) -> str:
    """A one-line reason for a failed delivery, for the log and the subscription."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = "; ".join(
            f"{rcpt}: {code} {reply.decode(errors='replace')}"
            for rcpt, (code, reply) in exc.recipients.items()
        )
        return f"recipient refused ({refusals})"
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else error
        return f"SMTP {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


class Mailer:
    """One SMTP connection, opened at the first message and reused; a broken connection
    is dropped and the next message opens a new one. Blocking: call from a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password or "")
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises `smtplib.SMTPException` or `OSError` if it was not
        accepted (a refused recipient, a refused message, no connection)."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
