"""The newspaper's website, from the bot's side: settings → a polite client → one poll.

Used by the reindex worker (`/reindex`, the scheduled scan, and the feed poll of `bantin run`
every `BANTIN_FEED_MINUTES`) and by `bantin fetch`. Blocking: always called off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from bantin.articles.store import ArticleStore
from bantin.articles.web.client import ClientConfig, PoliteClient
from bantin.articles.web.fetch import FetchReport, poll
from bantin.articles.web.state import FetchState
from bantin.bot.settings import Settings


def client_config(settings: Settings) -> ClientConfig:
    return ClientConfig(user_agent=settings.user_agent, per_host_rate=settings.feed_rate,
                        allow_private=settings.feed_allow_private)


def fetch_feeds(settings: Settings, store: ArticleStore,
                progress: Callable[[int, int], None] | None = None) -> FetchReport:
    """Poll every `BANTIN_FEEDS` URL once into `store`; the index is the caller's business."""
    with FetchState(settings.feeds_state_path) as state, PoliteClient(client_config(settings)) as client:
        return poll(store, state, client, settings.feeds, progress=progress)
