"""Send an email over SMTP (plain text, optional HTML), with STARTTLS or TLS."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal


def main(
    host: str,
    sender: str,
    to: list[str],
    subject: str,
    text: str,
    html: str | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    reply_to: str | None = None,
    port: int = 587,
    security: Literal["starttls", "tls", "none"] = "starttls",
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = 30,
) -> dict[str, Any]:
    """Send one message to its recipients through an SMTP server.

    Args:
        host: The SMTP server.
        sender: The From address ("Ops <ops@example.com>" works).
        to: The recipients.
        subject: The subject line.
        text: The plain-text body (always sent; mail clients without HTML show it).
        html: An HTML body, sent as the alternative part.
        cc: Copied recipients.
        bcc: Hidden recipients (never written in the headers).
        reply_to: Where replies go.
        port: 587 for STARTTLS, 465 for TLS, 25 for none.
        security: "starttls" upgrades a plain connection, "tls" connects over TLS, "none"
            sends in clear (local relays only).
        username: Log in with this user (and password) when the server needs it.
        password: The password; keep it in a secret variable.
        timeout_s: Seconds to wait for the server.

    Returns:
        The Message-ID and the recipients the server accepted.
    """
    if not to:
        raise ValueError("give at least one recipient")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    recipients = [*to, *(cc or []), *(bcc or [])]
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout_s)
    with smtp:
        smtp.ehlo()
        if security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if username:
            smtp.login(username, password or "")
        refused = smtp.send_message(message, to_addrs=recipients)
    return {
        "message_id": message["Message-ID"],
        "accepted": [r for r in recipients if r not in refused],
        "refused": sorted(refused),
    }
