"""Wiring: the one place that builds the PTB Application and registers every handler.

Services (the store, the index via the core, the rate limiter) are opened in `post_init`, kept in
`bot_data`, and closed in `post_shutdown`, as in python-telegram-bot's examples.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bantin.articles.store import ArticleStore
from bantin.bot import commands
from bantin.bot.chat import Core
from bantin.bot.commands import Menu
from bantin.bot.digests.store import SubscriptionStore
from bantin.bot.newsroom import desk as editors
from bantin.bot.newsroom.upkeep import start_upkeep
from bantin.bot.render import LANGUAGES, Renderer
from bantin.bot.settings import Settings
from bantin.bot.telegram import handlers, newsroom
from bantin.bot.telegram.context import CONTEXT_TYPES, App
from bantin.bot.telegram.digests import start_digests, stop_digests
from bantin.bot.telegram.ratelimit import PRESS_BURST, RateLimiter
from bantin.bot.telegram.send import DEFAULTS

log = logging.getLogger(__name__)
MENU = commands.menu(Menu.PUBLIC)


def build_application(settings: Settings) -> App:
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
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.flood_rate, max_retries=3))
        .concurrent_updates(64)
        .connection_pool_size(64)
        .defaults(DEFAULTS)
        .context_types(CONTEXT_TYPES)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data.settings = settings
    add_handlers(application)
    return application


def add_handlers(application: App) -> None:
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    # First, for every update: channel posts are never commands (see handlers.channel_guard).
    # Before that, every button press takes a turn (handlers.press_guard): nothing else is asked
    # of Telegram for a press past the limit.
    application.add_handler(CallbackQueryHandler(handlers.press_guard), group=-2)
    application.add_handler(TypeHandler(Update, handlers.channel_guard), group=-1)
    application.add_handler(ChatMemberHandler(handlers.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, handlers.chat_migrated))
    application.add_handler(CallbackQueryHandler(newsroom.editor_button, pattern=editors.BUTTON_PATTERN))
    # Every command, new or edited, takes one route: the command table (bot.commands) says who may
    # use it, whether it takes a turn and which room answers; unknown ones get a hint.
    application.add_handler(MessageHandler(filters.COMMAND, handlers.command))
    application.add_handler(MessageHandler(private & filters.TEXT, handlers.private_text))
    application.add_handler(MessageHandler(groups & filters.TEXT, handlers.group_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL & filters.UpdateType.MESSAGE,
                       handlers.not_text)
    )
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_handler(InlineQueryHandler(handlers.inline_query))
    application.add_error_handler(handlers.error_handler)


async def post_init(application: App) -> None:
    """Open services and register the command menus (Vietnamese by default, English for en)."""
    settings = settings_of(application)
    renderer = Renderer()
    store = ArticleStore(settings.store_path)
    me = await application.bot.get_me()
    core = application.bot_data.core = Core(store, settings.index_root, renderer, per_page=settings.per_page,
                                        bot_username=me.username,
                                        subscriptions=SubscriptionStore(settings.state_path),
                                        digest_time=settings.digest_time, digest_size=settings.digest_size,
                                        search_workers=settings.search_processes,
                                        search_cache=settings.search_cache,
                                        read_document_chars=settings.read_document_chars)
    # Open the index (and start the search workers) now, not on the first user's query. A missing
    # or damaged one does not stop the bot: start_upkeep (below) builds or repairs it.
    await asyncio.to_thread(lambda: core.index)
    application.bot_data.limiter = RateLimiter(settings.rate_burst, settings.rate_per_minute)
    application.bot_data.hints = RateLimiter(settings.rate_burst, settings.rate_per_minute)
    application.bot_data.presses = RateLimiter(PRESS_BURST, settings.button_rate)
    application.bot_data.search_timeout = settings.search_timeout
    for lang in LANGUAGES:
        entries = [BotCommand(name, renderer.label(lang, f"cmd_{name}")) for name in MENU]
        await application.bot.set_my_commands(
            entries, scope=BotCommandScopeDefault(), language_code=None if lang == "vi" else lang
        )
    desk = application.bot_data.desk = editors.open_desk(settings, core)
    await set_editor_menus(application, renderer, desk)
    await start_upkeep(application.bot, desk)
    if application.job_queue is not None:
        application.job_queue.run_repeating(editors.flush_job, interval=60, first=60, name="flush query count")
        if settings.scan_minutes:
            scan_every = settings.scan_minutes * 60
            application.job_queue.run_repeating(editors.scan_job, interval=scan_every, first=scan_every,
                                                name="scan sources")
            log.info("scanning the sources every %d min (BANTIN_SCAN_MINUTES)", settings.scan_minutes)
        if settings.feeds and settings.feed_minutes:
            every = settings.feed_minutes * 60
            # The first poll soon after start: a fresh install shows the site's news right away.
            application.job_queue.run_repeating(editors.fetch_job, interval=every, first=min(every, 5.0),
                                                name="poll the website")
            log.info("polling %d feed(s) every %g min (BANTIN_FEEDS, BANTIN_FEED_MINUTES)", len(settings.feeds),
                     settings.feed_minutes)
    application.bot_data.digests = await start_digests(application, core, settings)
    log.info("bot @%s ready: %d articles", me.username, store.count())


async def set_editor_menus(application: App, renderer: Renderer, desk: editors.Desk) -> None:
    """Each editor's private chat gets the public menu plus the editor commands (vi and en);
    editors removed from BANTIN_EDITORS get the public menu back. A user who never opened a chat
    with the bot cannot have a chat menu yet: logged, not fatal (it is set on the next start)."""
    settings = settings_of(application)
    given: set[int] = set()
    for user_id in sorted(settings.editors):
        try:
            for lang in LANGUAGES:
                names = (*MENU, *commands.menu(Menu.EDITOR))
                entries = [BotCommand(name, renderer.label(lang, f"cmd_{name}")) for name in names]
                await application.bot.set_my_commands(entries, scope=BotCommandScopeChat(chat_id=user_id),
                                                       language_code=None if lang == "vi" else lang)
            given.add(user_id)
        except TelegramError as exc:
            log.warning("could not set the editor menu for user %s: %s", user_id, exc)
    for user_id in desk.audit.menu_users() - set(settings.editors):
        try:
            for lang in LANGUAGES:
                await application.bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=user_id),
                                                         language_code=None if lang == "vi" else lang)
        except TelegramError as exc:
            log.warning("could not remove the editor menu of former editor %s: %s", user_id, exc)
            given.add(user_id)  # try again next start
    desk.audit.set_menu_users(given)


async def post_stop(application: App) -> None:
    """While the bot can still send: stop a running reindex politely and save the counters; let a
    digest broadcast finish its message in flight (the rest stays pending for the next start)."""
    await stop_digests(application.bot_data.digests)
    await editors.close_desk(application.bot_data.desk)


async def post_shutdown(application: App) -> None:
    core = application.bot_data.core
    if core is not None:
        core.close()
        core.store.close()
        if core.subscriptions is not None:
            core.subscriptions.close()


def settings_of(application: App) -> Settings:
    settings = application.bot_data.settings
    assert settings is not None, "build_application sets them"
    return settings


class StartupError(Exception):
    """The Bot API refused the token or cannot be reached: the CLI prints one line and a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


async def check_api(settings: Settings) -> None:
    """One getMe before anything starts, so a wrong token or a dead network is one clear line
    instead of PTB's logged and raised tracebacks (which also spell the token out)."""
    api = settings.api_url.rstrip("/")
    assert settings.token
    try:
        async with Bot(settings.token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot"):
            pass  # initialize() is the getMe
    except TelegramError as exc:
        raise startup_error(settings, exc) from None


def startup_error(settings: Settings, exc: TelegramError) -> StartupError:
    """What a start-up failure means for the operator; never the exception's text for a bad token."""
    if isinstance(exc, InvalidToken):
        return StartupError("Telegram từ chối BANTIN_TOKEN (token sai hoặc đã bị thu hồi)",
                            "lấy token đúng từ @BotFather (lệnh /token) rồi đặt lại BANTIN_TOKEN")
    if isinstance(exc, NetworkError):
        return StartupError(f"không kết nối được Bot API tại {settings.api_url} ({exc.message})",
                            "kiểm tra mạng, tường lửa và BANTIN_API_URL rồi chạy lại")
    return StartupError(f"Bot API trả lỗi khi khởi động: {exc.message}",
                        "thử lại sau ít phút; nếu vẫn lỗi, kiểm tra BANTIN_TOKEN và BANTIN_API_URL")


def run_bot(settings: Settings, *, webhook: str | None = None, listen: str | None = None) -> int:
    """Long polling by default; a webhook (with a secret token) when a URL is given.

    `run_polling`/`run_webhook` stop cleanly on SIGINT and SIGTERM. StartupError when the Bot
    API refuses the token or cannot be reached.
    """
    asyncio.run(check_api(settings))
    try:
        return _run_application(settings, webhook=webhook, listen=listen)
    except (InvalidToken, NetworkError) as exc:  # lost between the check and the start
        raise startup_error(settings, exc) from None


def _run_application(settings: Settings, *, webhook: str | None, listen: str | None) -> int:
    application = build_application(settings)
    if webhook:
        host, _, port = (listen or "127.0.0.1:8443").rpartition(":")
        application.run_webhook(
            listen=host or "127.0.0.1",
            port=int(port),
            url_path=settings.webhook_path,
            webhook_url=f"{webhook.rstrip('/')}/{settings.webhook_path}",
            secret_token=settings.webhook_secret_token,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=10)
    return 0
