"""Wiring: the one place that builds the PTB Application and registers every handler.

Services (the store, the index via the core, the rate limiter) are opened in `post_init`, kept in
`bot_data`, and closed in `post_shutdown`, as in python-telegram-bot's examples.
"""

from __future__ import annotations

import hashlib
import logging

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from articles.store import ArticleStore
from bot import handlers
from bot.core import Core
from bot.ratelimit import RateLimiter
from bot.render import LANGUAGES, Renderer
from bot.settings import Settings

log = logging.getLogger(__name__)
MENU = ("search", "latest", "help", "about")


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """Application with every handler registered; nothing touches the network until it runs."""
    if not settings.token:
        raise ValueError("BANTIN_TOKEN is required to run the bot")
    api = settings.api_url.rstrip("/")
    application = (
        Application.builder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # Telegram's flood limits (~30 msg/s overall, 1/s per chat, 20/min per group) and 429s.
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(64)
        .connection_pool_size(64)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["settings"] = settings
    add_handlers(application)
    return application


def add_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("about", handlers.about))
    application.add_handler(CommandHandler(["latest", "moi"], handlers.latest))
    application.add_handler(CommandHandler(["search", "tim"], handlers.search_command))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.other_command))
    application.add_handler(MessageHandler(private & filters.TEXT, handlers.private_text))
    application.add_handler(MessageHandler(groups & filters.TEXT, handlers.group_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL & filters.UpdateType.MESSAGE,
                       handlers.not_text)
    )
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_handler(InlineQueryHandler(handlers.inline_query))
    application.add_error_handler(handlers.error_handler)


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    """Open services and register the command menus (Vietnamese by default, English for en)."""
    settings: Settings = application.bot_data["settings"]
    renderer = Renderer()
    store = ArticleStore(settings.store_path)
    me = await application.bot.get_me()
    application.bot_data["core"] = Core(store, settings.index_root, renderer, per_page=settings.per_page,
                                        bot_username=me.username)
    application.bot_data["limiter"] = RateLimiter(settings.rate_burst, settings.rate_per_minute)
    application.bot_data["search_timeout"] = settings.search_timeout
    for lang in LANGUAGES:
        commands = [BotCommand(name, renderer.label(lang, f"cmd_{name}")) for name in MENU]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=None if lang == "vi" else lang
        )
    log.info("bot @%s ready: %d articles", me.username, store.count())


async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    core: Core | None = application.bot_data.get("core")
    if core is not None:
        core.close()
        core.store.close()


def run_bot(settings: Settings, *, webhook: str | None = None, listen: str | None = None) -> int:
    """Long polling by default; a webhook (with a secret token) when a URL is given.

    `run_polling`/`run_webhook` stop cleanly on SIGINT and SIGTERM.
    """
    application = build_application(settings)
    if webhook:
        host, _, port = (listen or "127.0.0.1:8443").rpartition(":")
        assert settings.token
        path = hashlib.sha256(settings.token.encode()).hexdigest()[:32]
        secret = settings.webhook_secret or hashlib.sha256(b"bantin" + settings.token.encode()).hexdigest()
        application.run_webhook(
            listen=host or "127.0.0.1",
            port=int(port),
            url_path=path,
            webhook_url=f"{webhook.rstrip('/')}/{path}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=10)
    return 0
