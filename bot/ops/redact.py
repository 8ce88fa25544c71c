"""Keep the bot token and the webhook secret out of every log line, traceback and error message.

The token is in every Bot API URL (`<root>/bot<token>/<method>`), so python-telegram-bot logs it at
DEBUG ("Set Bot API URL: …") and puts it in `InvalidToken` ("The token `…` was rejected"); a log
file or a pasted traceback would hand the bot over to whoever reads it. The filter sits on the
root handlers, so it sees the records of every library, and rewrites the finished text (message
with its arguments, exception and stack) rather than guessing where a secret might hide.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote

from bantin.bot.settings import Settings

MASK = "***"
#: A secret shorter than this is not redacted on its own: masking every "a" would garble the logs
#: and hide nothing worth hiding.
MIN_SECRET = 6


class Redactor:
    """Replaces each secret (as is, and URL-encoded) with a mask that keeps the public bot id."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        pairs: dict[str, str] = {}
        for secret in (s for s in secrets if s and len(s) >= MIN_SECRET):
            bot_id, colon, key = secret.partition(":")
            masked = f"{bot_id}:{MASK}" if colon and bot_id.isdigit() else MASK
            pairs[secret] = masked
            pairs[quote(secret, safe="")] = quote(masked, safe="*")
            if colon and len(key) >= MIN_SECRET:
                pairs[key] = MASK  # the secret half alone (e.g. split by a log format)
        # Longest first, so the whole token is masked before its secret half.
        self.pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, text: str) -> str:
        for secret, masked in self.pairs:
            if secret in text:
                text = text.replace(secret, masked)
        return text


class RedactingFilter(logging.Filter):
    """A handler filter: rewrites each record's text with every secret masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str | None]:
    """The token, the webhook secret, and what `run --webhook` derives from the token."""
    if not settings.token:
        return [settings.webhook_secret]
    return [settings.token, settings.webhook_secret_token, settings.webhook_path]


def install(settings: Settings) -> Redactor:
    """At the CLI edge, after logging is configured: every root handler and uncaught exceptions."""
    redactor = Redactor(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redactor("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = excepthook
    return redactor
