"""Delivery of the review: the webhook and e-mail notifiers (mocked), retries, settings."""

from __future__ import annotations

import re
import smtplib
from unittest import mock

import pytest
import requests

from config import Config
from dashboard.notifiers import (
    ConfigurationError,
    DeliveryError,
    EmailNotifier,
    Message,
    WebhookNotifier,
    configured_notifiers,
    deliver,
)

HOOK = "https://hooks.example.com/services/T000/B000/SECRET"
MESSAGE = Message(
    subject="Weekly review of Web, 2026-W47",
    text="# Weekly review\n\nplain text",
    html="<!doctype html><p>the <b>review</b></p>",
    chat={"text": "Weekly review", "blocks": []},
)


def answering(status: int, text: str = "") -> mock.Mock:
    session = mock.Mock(spec=requests.Session)
    session.post.return_value = mock.Mock(status_code=status, text=text)
    return session


# --- the webhook ----------------------------------------------------------------------


def test_webhook_posts_the_chat_payload_as_json():
    session = answering(200, "ok")

    WebhookNotifier(HOOK, session=session).send(MESSAGE)

    session.post.assert_called_once_with(HOOK, json=MESSAGE.chat, timeout=10)


def test_webhook_refusal_is_a_delivery_error_that_keeps_the_url_secret():
    notifier = WebhookNotifier(HOOK, session=answering(404, "no_service\n"))

    with pytest.raises(DeliveryError) as raised:
        notifier.send(MESSAGE)

    assert str(raised.value) == "the webhook hooks.example.com answered 404: no_service"
    assert "SECRET" not in str(raised.value)


def test_webhook_connection_error_is_a_delivery_error():
    session = mock.Mock(spec=requests.Session)
    session.post.side_effect = requests.ConnectionError("Connection refused")

    with pytest.raises(
        DeliveryError, match=re.escape("could not reach the webhook hooks.example.com")
    ):
        WebhookNotifier(HOOK, session=session).send(MESSAGE)


# --- e-mail ---------------------------------------------------------------------------


def email(**overrides) -> tuple[EmailNotifier, mock.Mock]:
    factory = mock.Mock(spec=smtplib.SMTP)
    settings = {
        "host": "smtp.example.com",
        "port": 587,
        "user": "bot",
        "password": "pw",
        "sender": "suitescope@example.com",
        "recipients": ["lead@example.com", "team@example.com"],
        "smtp_factory": factory,
    }
    return EmailNotifier(**(settings | overrides)), factory


def test_email_is_text_and_html_alternatives():
    notifier, _ = email()

    mail = notifier.compose(MESSAGE)

    assert mail.get_content_type() == "multipart/alternative"
    assert mail["Subject"] == MESSAGE.subject
    assert mail["From"] == "suitescope@example.com"
    assert mail["To"] == "lead@example.com, team@example.com"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert parts["text/plain"].strip() == MESSAGE.text
    assert parts["text/html"].strip() == MESSAGE.html


def test_email_uses_starttls_then_logs_in_then_sends():
    notifier, factory = email()

    notifier.send(MESSAGE)

    factory.assert_called_once_with("smtp.example.com", 587, timeout=30)
    smtp = factory.return_value
    names = [call[0] for call in smtp.method_calls]
    assert names == ["ehlo", "starttls", "ehlo", "login", "send_message", "quit"]
    smtp.login.assert_called_once_with("bot", "pw")
    (sent,) = smtp.send_message.call_args.args
    assert sent["Subject"] == MESSAGE.subject
    assert smtp.send_message.call_args.kwargs["to_addrs"] == [
        "lead@example.com",
        "team@example.com",
    ]


def test_email_without_user_or_starttls_skips_them():
    notifier, factory = email(user=None, starttls=False)

    notifier.send(MESSAGE)

    names = [call[0] for call in factory.return_value.method_calls]
    assert names == ["ehlo", "send_message", "quit"]


def test_email_refused_is_a_delivery_error_and_the_session_is_closed():
    notifier, factory = email()
    factory.return_value.login.side_effect = smtplib.SMTPAuthenticationError(535, b"bad login")

    with pytest.raises(
        DeliveryError, match=re.escape("e-mail via smtp.example.com:587 failed: SMTPAuth")
    ):
        notifier.send(MESSAGE)

    factory.return_value.send_message.assert_not_called()
    factory.return_value.quit.assert_called_once()


def test_email_server_unreachable_is_a_delivery_error():
    notifier, factory = email()
    factory.side_effect = ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(
        DeliveryError, match=re.escape("could not reach e-mail via smtp.example.com:587")
    ):
        notifier.send(MESSAGE)


# --- delivering -----------------------------------------------------------------------


def notifier(name: str, *outcomes) -> mock.Mock:
    """A notifier whose successive sends raise or return the given outcomes."""
    fake = mock.Mock()
    fake.name = name
    fake.send.side_effect = list(outcomes)
    return fake


def test_a_failed_delivery_is_retried_once():
    flaky_hook = notifier("webhook", DeliveryError("answered 500"), None)
    sleep = mock.Mock()

    failures = deliver([flaky_hook], MESSAGE, retry_delay=2.5, sleep=sleep)

    assert failures == []
    assert flaky_hook.send.call_count == 2
    sleep.assert_called_once_with(2.5)


def test_a_second_failure_is_reported_and_the_others_still_go_out():
    dead = notifier("webhook", DeliveryError("answered 500"), DeliveryError("answered 502"))
    mail = notifier("e-mail", None)

    failures = deliver([dead, mail], MESSAGE, retry_delay=0, sleep=mock.Mock())

    assert [(f.notifier, f.message) for f in failures] == [("webhook", "answered 502")]
    assert dead.send.call_count == 2
    mail.send.assert_called_once_with(MESSAGE)


def test_an_unexpected_error_is_reported_not_raised():
    broken = notifier("webhook", KeyError("blocks"), KeyError("blocks"))
    mail = notifier("e-mail", None)

    failures = deliver([broken, mail], MESSAGE, retry_delay=0, sleep=mock.Mock())

    assert failures[0].message == "webhook failed unexpectedly: KeyError: 'blocks'"
    mail.send.assert_called_once()


def test_success_needs_no_retry():
    hook = notifier("webhook", None)
    sleep = mock.Mock()

    assert deliver([hook], MESSAGE, sleep=sleep) == []
    sleep.assert_not_called()


# --- settings -------------------------------------------------------------------------


def test_config_reads_the_delivery_settings():
    config = Config(
        {
            "SECRET_KEY": "k",
            "SUITESCOPE_WEBHOOK_URL": HOOK,
            "SUITESCOPE_SMTP_HOST": "smtp.example.com",
            "SUITESCOPE_SMTP_PORT": "2525",
            "SUITESCOPE_SMTP_USER": "bot",
            "SUITESCOPE_SMTP_PASSWORD": "pw",
            "SUITESCOPE_SMTP_FROM": "suitescope@example.com",
            "SUITESCOPE_SMTP_TO": "lead@example.com, ,team@example.com",
            "SUITESCOPE_SMTP_STARTTLS": "0",
        }
    )

    assert config.SUITESCOPE_SMTP_PORT == 2525
    assert config.SUITESCOPE_SMTP_TO == ["lead@example.com", "team@example.com"]
    assert config.SUITESCOPE_SMTP_STARTTLS is False
    webhook, mail = configured_notifiers(config.as_dict(), session=answering(200))
    assert isinstance(webhook, WebhookNotifier)
    assert (mail.host, mail.port, mail.user, mail.starttls) == (
        "smtp.example.com",
        2525,
        "bot",
        False,
    )


def test_delivery_defaults_port_587_and_starttls():
    config = Config({"SECRET_KEY": "k"})

    assert (config.SUITESCOPE_SMTP_PORT, config.SUITESCOPE_SMTP_STARTTLS) == (587, True)
    assert config.SUITESCOPE_WEBHOOK_URL == config.SUITESCOPE_SMTP_HOST == ""


def test_nothing_configured_names_the_variables():
    with pytest.raises(ConfigurationError) as raised:
        configured_notifiers(Config({"SECRET_KEY": "k"}).as_dict())

    for name in ("SUITESCOPE_WEBHOOK_URL", "SUITESCOPE_SMTP_HOST", "SUITESCOPE_SMTP_TO"):
        assert name in str(raised.value)


def test_half_configured_email_names_what_is_missing():
    with pytest.raises(
        ConfigurationError, match="also needs SUITESCOPE_SMTP_FROM, SUITESCOPE_SMTP_TO"
    ):
        configured_notifiers({"SUITESCOPE_SMTP_HOST": "smtp.example.com"})


def test_recipients_may_come_as_text():
    (mail,) = configured_notifiers(
        {
            "SUITESCOPE_SMTP_HOST": "smtp.example.com",
            "SUITESCOPE_SMTP_FROM": "s@example.com",
            "SUITESCOPE_SMTP_TO": "a@example.com,b@example.com",
        }
    )

    assert mail.recipients == ["a@example.com", "b@example.com"]
    assert (mail.port, mail.user, mail.starttls) == (587, None, True)
