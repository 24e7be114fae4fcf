"""Delivering the weekly review: a chat webhook and e-mail, behind two small classes.

``deliver`` sends one ``Message`` through every notifier, retries a failed
delivery once, and reports which failed and why; one failure never stops the
others. Nothing here knows Flask: ``configured_notifiers`` reads a plain mapping
(the app's config), so the CLI and the tests build notifiers the same way.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import urlsplit

import requests

WEBHOOK_TIMEOUT_SECONDS = 10
SMTP_TIMEOUT_SECONDS = 30
RETRY_DELAY_SECONDS = 5.0
BODY_SHOWN = 200  # characters of a refusal quoted in the error


class DeliveryError(RuntimeError):
    """A delivery that did not go through, with a message for people."""


class ConfigurationError(ValueError):
    """Delivery settings that are missing or incomplete."""


@dataclass(frozen=True, slots=True)
class Message:
    """One review in every form a notifier may want."""

    subject: str
    text: str  # plain text (the Markdown)
    html: str  # a whole HTML document
    chat: dict  # a Slack-compatible payload: {"text": ..., "blocks": [...]}


class Notifier(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


class WebhookNotifier:
    """POSTs the chat payload as JSON to a Slack-compatible incoming webhook."""

    def __init__(
        self,
        url: str,
        session: requests.Session | None = None,
        timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.session = session or requests.Session()
        self.timeout = timeout
        # The URL of an incoming webhook is its secret: messages name the host only.
        self.name = f"webhook {urlsplit(url).hostname or 'with no host'}"

    def send(self, message: Message) -> None:
        try:
            response = self.session.post(self.url, json=message.chat, timeout=self.timeout)
        except requests.RequestException as error:
            raise DeliveryError(f"could not reach the {self.name}: {_describe(error)}") from None
        if not 200 <= response.status_code < 300:
            body = " ".join((response.text or "").split())[:BODY_SHOWN]
            raise DeliveryError(
                f"the {self.name} answered {response.status_code}" + (f": {body}" if body else "")
            )


class EmailNotifier:
    """Mails the review (text and HTML alternatives) over SMTP, with STARTTLS."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = True,
        smtp_factory: Callable[..., smtplib.SMTP] = smtplib.SMTP,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.sender = sender
        self.recipients = list(recipients)
        self.starttls = starttls
        self.smtp_factory = smtp_factory
        self.timeout = timeout
        self.name = f"e-mail via {host}:{port}"

    def compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: Message) -> None:
        mail = self.compose(message)
        try:
            smtp = self.smtp_factory(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"could not reach {self.name}: {_describe(error)}") from None
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail, from_addr=self.sender, to_addrs=self.recipients)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"{self.name} failed: {_describe(error)}") from None
        finally:
            _quit(smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    # The mail went or it did not; a failure to close the session is no news either way.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.quit()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# --- delivering ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    notifier: str
    message: str


def deliver(
    notifiers: Sequence[Notifier],
    message: Message,
    *,
    retry_delay: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Failure]:
    """Send ``message`` through each notifier, retrying a failure once after
    ``retry_delay`` seconds (default ``RETRY_DELAY_SECONDS``); returns the
    deliveries that failed twice (empty when everything went out)."""
    delay = RETRY_DELAY_SECONDS if retry_delay is None else retry_delay
    failures = []
    for notifier in notifiers:
        error = _attempt(notifier, message)
        if error is not None:
            sleep(delay)
            error = _attempt(notifier, message)
        if error is not None:
            failures.append(Failure(notifier.name, error))
    return failures


def _attempt(notifier: Notifier, message: Message) -> str | None:
    try:
        notifier.send(message)
    except DeliveryError as error:
        return str(error)
    except Exception as error:  # one broken notifier must not stop the others
        return f"{notifier.name} failed unexpectedly: {_describe(error)}"
    return None


# --- from the configuration --------------------------------------------------------------

WEBHOOK_SETTING = "SUITESCOPE_WEBHOOK_URL"
SMTP_SETTINGS = ("SUITESCOPE_SMTP_HOST", "SUITESCOPE_SMTP_FROM", "SUITESCOPE_SMTP_TO")


def configured_notifiers(
    config: Mapping[str, object],
    *,
    session: requests.Session | None = None,
    smtp_factory: Callable[..., smtplib.SMTP] | None = None,
) -> list[Notifier]:
    """The notifiers the settings describe (see README, "Configuration").

    Raises ``ConfigurationError`` when neither is configured, or when e-mail is
    half-configured (a host without a sender or recipients, say).
    """
    notifiers: list[Notifier] = []
    if config.get(WEBHOOK_SETTING):
        notifiers.append(WebhookNotifier(str(config[WEBHOOK_SETTING]), session=session))
    if any(config.get(name) for name in SMTP_SETTINGS):
        missing = [name for name in SMTP_SETTINGS if not config.get(name)]
        if missing:
            raise ConfigurationError(f"e-mail delivery also needs {', '.join(missing)}")
        notifiers.append(
            EmailNotifier(
                host=str(config["SUITESCOPE_SMTP_HOST"]),
                port=int(config.get("SUITESCOPE_SMTP_PORT") or 587),
                user=config.get("SUITESCOPE_SMTP_USER") or None,
                password=config.get("SUITESCOPE_SMTP_PASSWORD") or None,
                sender=str(config["SUITESCOPE_SMTP_FROM"]),
                recipients=_addresses(config["SUITESCOPE_SMTP_TO"]),
                starttls=bool(config.get("SUITESCOPE_SMTP_STARTTLS", True)),
                # Looked up now, not at import, so tests can replace smtplib.SMTP.
                smtp_factory=smtp_factory or smtplib.SMTP,
            )
        )
    if not notifiers:
        raise ConfigurationError(
            f"nothing to send to: set {WEBHOOK_SETTING} for a chat webhook and/or "
            f"{', '.join(SMTP_SETTINGS)} for e-mail"
        )
    return notifiers


def _addresses(value: object) -> list[str]:
    """Recipients from a list, or from comma-separated text."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]
