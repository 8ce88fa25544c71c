"""The services a chat's replies stand on: the article store, the search index, the subscription store.

Opened lazily and shared by every room (search replies, digest settings, the editors' desk), so a
bot whose index is missing or damaged still starts, answers, and picks the index up once it can
be read. Nothing here renders a reply except the two every room needs (`notice`, `no_index`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bantin.articles.store import ArticleStore
from bantin.bot.clock import utcnow
from bantin.bot.digests.store import SubscriptionStore
from bantin.bot.render import Renderer, number
from bantin.bot.reply import Reply
from bantin.index.layout import pointer_stamp
from bantin.index.pool import CACHE_BUDGET, PooledIndex
from bantin.index.searcher import IndexDamaged, IndexMissing, SearchIndex

log = logging.getLogger(__name__)

#: Seconds between two attempts to open a damaged index whose pointer did not change (a rebuild
#: changes it, and is noticed at once; an operator restoring files by hand, within this).
DAMAGE_RETRY = 30.0


@dataclass
class Services:
    """The stores, the index and the renderer, with the settings replies need (page size, digest time...)."""

    store: ArticleStore
    index_root: Path
    renderer: Renderer = field(default_factory=Renderer)
    per_page: int = 5
    bot_username: str | None = None
    #: Daily digests. The console builds a Core without a store: it then opens `bot.sqlite` beside
    #: the index (Settings.state_path) on first use.
    subscriptions: SubscriptionStore | None = None
    digest_time: str = "07:00"
    digest_size: int = 10
    clock: Callable[[], datetime] = utcnow
    #: Processes that run searches (index.pool); 0 searches in this process.
    search_workers: int = 0
    #: Decoded postings each search process keeps (Settings.search_cache).
    search_cache: int = CACHE_BUDGET
    #: Articles longer than this (characters of text) are read as one .txt file rather than a
    #: run of messages; 0 = always messages.
    read_document_chars: int = 12000
    #: How far a build of the index has got, (done, total articles; total 0 = not counting yet),
    #: or None when nothing is building it. Set by the bot (bot.newsroom.upkeep); None in the console.
    index_progress: Callable[[], tuple[int, int] | None] | None = None
    #: Why the index cannot be read (None: it can, or there is none yet).
    damage: str | None = field(default=None, init=False)
    _damage_seen: tuple[tuple[int, int] | None, float] = field(default=(None, 0.0), init=False, repr=False)
    _own_subscriptions: bool = field(default=False, init=False, repr=False)
    _index: SearchIndex | PooledIndex | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)


    @property
    def index(self) -> SearchIndex | PooledIndex | None:
        """The search index, opened on first use (it may be built after the bot starts)."""
        if self._index is None:
            with self._lock:
                if self._index is None and self._worth_opening():
                    self._index = self._open_index()
        return self._index

    def _open_index(self) -> SearchIndex | PooledIndex | None:
        try:
            if self.search_workers > 0:
                index: SearchIndex | PooledIndex = PooledIndex.open(self.index_root, self.search_workers,
                                                                    cache=self.search_cache)
            else:
                index = SearchIndex.open(self.index_root, cache=self.search_cache)
        except IndexMissing:
            self.damage = None
            return None
        except IndexDamaged as exc:
            if self.damage is None:  # once, not once per query
                log.error("the search index is damaged (%s); searches are answered 'being repaired' until it "
                          "is rebuilt from the article store: `bantin reindex --full`, or /reindex full in "
                          "Telegram", exc.reason)
            self.damage = exc.reason
            self._damage_seen = (pointer_stamp(self.index_root), time.monotonic())
            return None
        if self.damage is not None:
            log.info("the search index can be read again; searching")
            self.damage = None
        return index

    def _worth_opening(self) -> bool:
        """A damaged index is tried again when a rebuild swapped in a new one, or now and then."""
        if self.damage is None:
            return True
        stamp, when = self._damage_seen
        return pointer_stamp(self.index_root) != stamp or time.monotonic() - when >= DAMAGE_RETRY

    def no_index(self, lang: str) -> Reply:
        """Why a search cannot run: the index is being prepared (and how far it got), or it is
        being repaired: damaged, or no longer being built (the build failed; editors are told)."""
        progress = self.index_progress() if self.index_progress is not None else None
        repairing = self.damage is not None or (self.index_progress is not None and progress is None)
        done, total = progress or (0, 0)
        return self.notice("index_repair" if repairing else "no_index", lang,
                           done=number(min(done, total), lang), total=number(total, lang) if total else None)

    @property
    def subs(self) -> SubscriptionStore:
        if self.subscriptions is None:
            with self._lock:
                if self.subscriptions is None:
                    self.subscriptions = SubscriptionStore(self.index_root.parent / "bot.sqlite")
                    self._own_subscriptions = True
        return self.subscriptions

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._own_subscriptions and self.subscriptions is not None:
            self.subscriptions.close()
            self.subscriptions = None

    def notice(self, template: str, lang: str, /, **context: Any) -> Reply:
        return Reply(self.renderer.render(lang, template, **context))
