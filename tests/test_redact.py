"""The token and the webhook secret never reach a log line, a traceback or a CLI message (issue 12, item 5)."""

from __future__ import annotations

import io
import logging
import sys
from urllib.parse import quote

import pytest

from bantin.bot.ops import redact
from bantin.bot.settings import Settings

TOKEN = "7654321:AAH-secretPartOfTheToken_x9"


def logger_to(buffer: io.StringIO, redactor: redact.Redactor) -> logging.Logger:
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler.addFilter(redact.RedactingFilter(redactor))
    parent = logging.getLogger("test_redact")
    parent.handlers[:] = [handler]
    parent.propagate = False
    parent.setLevel(logging.DEBUG)
    return logging.getLogger("test_redact.child")  # records of child loggers pass the handler's filter


def test_messages_arguments_and_tracebacks_are_masked() -> None:
    buffer = io.StringIO()
    log = logger_to(buffer, redact.Redactor(redact.secrets_of(Settings(token=TOKEN, webhook_secret="hook-secret-1"))))
    log.debug("Set Bot API URL: %s", f"https://api.telegram.org/bot{TOKEN}")
    log.info("encoded %s, half %s, secret %s", quote(TOKEN, safe=""), TOKEN.split(":")[1], "hook-secret-1")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("start-up failed")
    text = buffer.getvalue()
    assert "RuntimeError: The token `7654321:***` was rejected" in text
    assert "bot7654321:***" in text and "hook-secret-1" not in text
    assert TOKEN not in text and "secretPartOfTheToken" not in text and quote(TOKEN, safe="") not in text


def test_a_webhook_secret_derived_from_the_token_is_masked_too() -> None:
    settings = Settings(token=TOKEN)
    redactor = redact.Redactor(redact.secrets_of(settings))
    line = redactor(f"secret_token={settings.webhook_secret_token} path=/{settings.webhook_path}")
    assert settings.webhook_secret_token not in line and settings.webhook_path not in line


def test_short_strings_are_not_secrets() -> None:
    assert redact.Redactor([None, "", "abc"])("abc def") == "abc def"


def test_install_filters_the_root_handlers_and_uncaught_exceptions(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    redact.install(Settings(token=TOKEN))
    redact.install(Settings(token=TOKEN))  # idempotent: one filter per handler
    assert len(handler.filters) == 1
    logging.getLogger("telegram.ext.ExtBot").warning("url %s", f"/bot{TOKEN}/getMe")
    try:
        raise ValueError(TOKEN)
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert TOKEN not in buffer.getvalue() and "/bot7654321:***/getMe" in buffer.getvalue()
    err = capsys.readouterr().err
    assert "ValueError: 7654321:***" in err and TOKEN not in err
