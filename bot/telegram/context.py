"""What the bot keeps between updates, typed: PTB's `bot_data` is a `BotData`, not a dict of string keys.

Built empty by PTB (`ContextTypes(bot_data=BotData)`), filled in `post_init` (bot.telegram.app) and
read by the handlers and jobs through attributes that mypy checks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bantin.bot.chat import Core
from bantin.bot.digests.scheduler import DigestScheduler
from bantin.bot.newsroom.desk import Desk
from bantin.bot.settings import Settings
from bantin.bot.telegram.membership import AdminCache
from bantin.bot.telegram.ratelimit import RateLimiter


@dataclass
class BotData:
    settings: Settings | None = None
    core: Core | None = None
    limiter: RateLimiter | None = None
    #: Usage hints (/help, a bare /start or /search, an empty mention, a sticker): their own bucket.
    hints: RateLimiter | None = None
    #: Every button press, before any API call (BANTIN_BUTTON_RATE).
    presses: RateLimiter | None = None
    #: getChatMember answers for (chat, user), kept a minute.
    admins: AdminCache = field(default_factory=AdminCache)
    #: Seconds a search may take before the user gets the "timeout" reply (BANTIN_SEARCH_TIMEOUT).
    search_timeout: float = 5.0
    desk: Desk | None = None
    digests: DigestScheduler | None = None
    #: Button presses answered lately, so the error handler never answers one a second time.
    answered: OrderedDict[str, None] = field(default_factory=OrderedDict)


Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
App = Application[Any, Context, dict[Any, Any], dict[Any, Any], BotData, Any]
