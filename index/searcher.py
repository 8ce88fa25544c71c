"""Searching the live index: `SearchIndex` and the plain data it returns.

The bot calls `search()` from worker threads (asyncio.to_thread), so one lock serialises searches:
they are CPU-bound under the GIL anyway, Whoosh readers share file handles, and the decoded
postings (`index.engine`) are shared by all of them. Before each search the index checks, cheaply
(a stat of the pointer file, a listing of the generation's folder), whether a commit or a rebuild's
swap happened, and moves to the newest reader; the reader it leaves is closed under the same lock,
so no search is using it. A writer deleting files never breaks a reader either: segments are
single compound files, held open (or mapped) from the moment a reader opens them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher

from bantin.articles.model import parse_published, published_iso
from bantin.index.budget import Budget, SearchTimeout, current_deadline
from bantin.index.engine import CACHE_BUDGET, Engine
from bantin.index.layout import current_generation, dir_size, pointer_stamp, read_meta
from bantin.index.query import clean_query, parse_query
from bantin.index.ranking import Ranking
from bantin.index.related import Fingerprint, related_docnums
from bantin.index.schema import SCHEMA, SCHEMA_VERSION
from bantin.index.snippets import Snippet, make_snippet
from bantin.index.suggest import RARE, Suggester

MAX_PER_PAGE = 50
#: Below this many matches, a query is always checked for typos; above, only when a word is rare.
SUGGEST_BELOW = 3
SORTS = ("relevance", "newest")
_OPEN_RETRIES = 5


class IndexMissing(Exception):
    """There is no usable index under the given root (never built, or not finished yet)."""

    def __init__(self, index_root: Path) -> None:
        super().__init__(f"chưa có chỉ mục tìm kiếm ở {index_root} (chạy `bantin reindex`)")
        self.index_root = index_root


class IndexDamaged(Exception):
    """The live generation's files cannot be read (a truncated or garbage TOC, a truncated or
    missing segment): only a rebuild from the article store helps, retrying does not."""

    def __init__(self, index_root: Path, generation: Path, reason: str, *, outdated: bool = False) -> None:
        super().__init__(f"chỉ mục tìm kiếm ở {generation} bị hỏng ({reason})")
        self.index_root = index_root
        self.generation = generation
        self.reason = reason
        #: Not damaged but written by an older format (e.g. before the code moved under `bantin.`,
        #: whose pickled classes an old TOC names): the same cure, a rebuild from the store.
        self.outdated = outdated


@dataclass(frozen=True)
class Hit:
    """One result, as plain data; `snippet` is text with the query words' positions (the bot's
    templates mark them in HTML)."""

    id: str
    title: str
    published: date | datetime | None
    url: str | None
    snippet: Snippet
    score: float
    #: Near-duplicates of this article (the same story again) left out of this page; they come
    #: first on the next one.
    similar: int = 0

    def to_json(self, snippet: Callable[[Snippet], str] | None = None) -> dict[str, Any]:
        """Plain data for JSON; `snippet` renders the snippet (default: its plain text), e.g. as
        the chat's HTML for `bantin search --json`."""
        return {
            "id": self.id,
            "title": self.title,
            "published": published_iso(self.published),
            "url": self.url,
            "snippet": snippet(self.snippet) if snippet is not None else self.snippet.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class SearchPage:
    """One page of results. `total` counts every match, `results` only this page's."""

    query: str
    total: int
    page: int
    pages: int
    per_page: int
    results: list[Hit] = field(default_factory=list)
    suggestion: str | None = None
    relaxed: bool = False
    #: The query was too long and cut (`index.query`): the user is told, with `words_used`.
    truncated: bool = False
    #: The search's deadline passed before it finished: nothing was found, nothing is certain.
    timed_out: bool = False
    #: A month or year filter ("2023", "2023-09") that no article matched, so it was lifted.
    date_dropped: str | None = None
    #: How many query words the search read (all of them unless `truncated`).
    words_used: int = 0

    def to_json(self, snippet: Callable[[Snippet], str] | None = None) -> dict[str, Any]:
        """The `bantin search --json` contract, plus pages/per_page/relaxed/date_dropped/truncated (`snippet`:
        as for `Hit.to_json`)."""
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "results": [hit.to_json(snippet) for hit in self.results],
            "suggestion": self.suggestion,
            "pages": self.pages,
            "per_page": self.per_page,
            "relaxed": self.relaxed,
            "date_dropped": self.date_dropped,
            "truncated": self.truncated,
        }


class SearchIndex:
    """A thread-safe handle on the live index generation under `index_root`."""

    def __init__(self, index_root: Path, generation: Path, searcher: Searcher, *, cache: int = CACHE_BUDGET) -> None:
        self._root = index_root
        self._generation = generation
        self._searcher = searcher
        #: decoded postings kept per reader (`Engine`'s budget, in postings of 8 bytes)
        self._cache = cache
        self._engine = Engine(searcher.reader(), budget=cache)
        self._stamp = pointer_stamp(index_root)
        self._lock = threading.RLock()
        self._suggester = Suggester()
        self._closed = False

    # -- opening ---------------------------------------------------------------------------------

    @staticmethod
    def exists(index_root: Path) -> bool:
        return current_generation(Path(index_root)) is not None

    @classmethod
    def open(cls, index_root: Path, *, cache: int = CACHE_BUDGET) -> SearchIndex:
        """Open the live generation; raises `IndexMissing` when there is none, `IndexDamaged` when
        its files cannot be read (at once: damage is told from a swap in progress, see below).
        `cache`: decoded postings kept in memory (see `index.engine.CACHE_BUDGET`)."""
        root = Path(index_root)
        for _ in range(_OPEN_RETRIES):
            generation = current_generation(root)
            if generation is None:
                break
            meta = read_meta(generation)
            if meta is not None and meta.schema_version != SCHEMA_VERSION:
                raise IndexDamaged(root, generation, f"định dạng {meta.schema_version}, bản này cần {SCHEMA_VERSION}",
                                   outdated=True)
            try:
                searcher = _open_searcher(generation)
                try:
                    return cls(root, generation, searcher, cache=cache)
                except Exception as exc:  # decoding the postings read a damaged segment
                    searcher.close()
                    raise IndexDamaged(root, generation, _reason(exc)) from exc
            except IndexDamaged:
                if current_generation(root) == generation:
                    raise  # nothing moved: the files themselves are bad
                time.sleep(0.05)  # swapped and cleaned up under us: look at the pointer again
        raise IndexMissing(root)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._searcher.close()
                self._closed = True

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Move to the newest commit or generation, if there is one (cheap when there is not)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        if self._closed:
            raise ValueError("SearchIndex is closed")
        stamp = pointer_stamp(self._root)
        if stamp != self._stamp:
            generation = current_generation(self._root)
            if generation is not None and generation != self._generation:
                try:
                    searcher = _open_searcher(generation)
                except IndexDamaged:
                    return  # try again on the next search; the old generation still works
                self._searcher.close()
                self._searcher, self._generation = searcher, generation
                self._engine = Engine(searcher.reader(), budget=self._cache)
            self._stamp = stamp
        try:
            if not self._searcher.up_to_date():
                # refresh() closes what the old searcher held: it must not be closed again
                self._searcher = self._searcher.refresh()
                self._engine = Engine(self._searcher.reader(), budget=self._cache)
        except (OSError, whoosh_index.EmptyIndexError):
            pass  # a commit is being written: keep the current reader for now

    # -- facts -----------------------------------------------------------------------------------

    def doc_count(self) -> int:
        with self._lock:
            self._refresh()
            return int(self._searcher.doc_count())

    def size_bytes(self) -> int:
        with self._lock:
            return dir_size(self._generation)

    @property
    def generation(self) -> Path:
        return self._generation

    # -- searching -------------------------------------------------------------------------------

    def search(self, query: str, *, page: int = 1, per_page: int = 5, sort: str = "relevance",
               deadline: float | None = None) -> SearchPage:
        """One page of results; never raises on the query text, paging or sort values.

        `deadline` (`time.time()`; by default the caller's `index.budget.deadline_after`) bounds
        the search: past it, the search stops where it is and returns a page marked `timed_out`.
        """
        parsed = parse_query(query)
        shown = clean_query(query).text
        used = len(parsed.words)
        page, per_page = _positive(page, 1), min(_positive(per_page, 5), MAX_PER_PAGE)
        sort = sort if sort in SORTS else "relevance"
        if parsed.empty:
            return SearchPage(shown, 0, page, 0, per_page, truncated=parsed.truncated, words_used=used)
        budget = Budget(deadline if deadline is not None else current_deadline())
        timed_out = SearchPage(shown, 0, page, 0, per_page, truncated=parsed.truncated, timed_out=True,
                               words_used=used)
        remaining = budget.remaining()
        # searches take turns: one that waited past its deadline does not start at all
        if not self._lock.acquire(timeout=-1 if remaining is None else remaining):
            return timed_out
        try:
            budget.check()
            self._refresh()
            searcher = self._searcher
            # one page more than shown: room to fill the page when copies are collapsed
            limit = min((page + 1) * per_page, searcher.doc_count() + per_page)
            ranked = Ranking(self._engine, searcher, parsed, newest=sort == "newest", limit=limit, budget=budget)
            budget.check()
            chosen = self._collapsed(ranked.docs, page, per_page, budget)
            exact = ranked.exact
            hits = [self._hit(d, score, ranked.highlight, exact, similar) for d, score, similar in chosen]
            suggestion = None
            if ranked.strict_total < SUGGEST_BELOW or self._has_rare_word(ranked):
                budget.check()
                suggestion = self._suggester.suggest(self._engine, ranked.parsed, ranked.strict_total)
        except SearchTimeout:
            return timed_out
        finally:
            self._lock.release()
        pages = -(-ranked.total // per_page)
        return SearchPage(
            shown, ranked.total, page, pages, per_page, hits, suggestion, ranked.relaxed, parsed.truncated,
            date_dropped=ranked.date_dropped, words_used=used,
        )

    def _has_rare_word(self, ranked: Ranking) -> bool:
        frequency = self._engine.reader.doc_frequency
        return any(frequency("text", w.folded) <= RARE for w in ranked.parsed.words if not w.folded.isdigit())

    def _collapsed(
        self, docs: list[tuple[int, float]], page: int, per_page: int, budget: Budget
    ) -> list[tuple[int, float, int]]:
        """Page `page` of `docs` with each story once: a near-duplicate of an article on the same
        page is counted on it and moved to the top of the next page, where it is shown whatever
        it resembles (so every article stays reachable and pages stay full)."""
        queue = [(docnum, score, False) for docnum, score in docs]
        shown: list[tuple[int, float, int]] = []
        for _ in range(page):
            budget.check()
            shown = []
            kept: list[Fingerprint] = []
            deferred: list[tuple[int, float, int]] = []  # (docnum, score, index of its twin in shown)
            while queue and len(shown) < per_page:
                docnum, score, moved = queue.pop(0)
                fingerprint = Fingerprint.of(self._engine.stored(docnum).fields)
                twin = None if moved else next((i for i, o in enumerate(kept) if fingerprint.near(o)), None)
                if twin is None:
                    kept.append(fingerprint)
                    shown.append((docnum, score, 0))
                else:
                    deferred.append((docnum, score, twin))
                    d, sc, similar = shown[twin]
                    shown[twin] = (d, sc, similar + 1)
            while deferred and len(shown) < per_page:  # nothing else to show: the copies after all
                docnum, score, twin = deferred.pop(0)
                d, sc, similar = shown[twin]
                shown[twin] = (d, sc, similar - 1)
                shown.append((docnum, score, 0))
            queue = [(docnum, score, True) for docnum, score, _ in deferred] + queue
        return shown

    def related(self, article_id: str, *, limit: int = 5) -> list[Hit]:
        """Articles about the same thing, best first; never the article itself or its copies."""
        if not isinstance(article_id, str) or not article_id:
            return []
        limit = min(_positive(limit, 5), MAX_PER_PAGE)
        with self._lock:
            self._refresh()
            searcher = self._searcher
            found = related_docnums(self._engine, searcher, article_id, limit=limit)
            return [self._hit(docnum, score, ()) for docnum, score in found]

    def _hit(
        self, docnum: int, score: float, words: Iterable[str], exact: dict[str, str] | None = None, similar: int = 0
    ) -> Hit:
        stored, body, _ = self._engine.stored(docnum)
        published = stored.get("published")
        return Hit(
            id=stored["id"],
            title=stored.get("title") or "",
            published=parse_published(published) if isinstance(published, str) else None,
            url=stored.get("url"),
            snippet=make_snippet(words, stored.get("lead") or "", body, exact=exact),
            score=float(score),
            similar=similar,
        )


def _open_searcher(generation: Path) -> Searcher:
    """Open a generation's newest commit; `SCHEMA` is passed so the TOC's pickle is not needed.

    A commit writes a new TOC and then deletes the segments only the old one listed, so an open
    can fail because the index moved under it: then there is a newer TOC, and we try again. When
    the newest TOC is still the one that failed, nothing moved and the files are damaged: that is
    `IndexDamaged` at once. (Whoosh's own `reader()` retries any I/O error ten times, 0.5 s per
    open, so the reader is built here from the TOC directly.)
    """
    for attempt in range(_OPEN_RETRIES):
        storage = FileStorage(str(generation))
        toc = _latest_toc(storage)
        try:
            ix = whoosh_index.FileIndex(storage, schema=SCHEMA)  # reads the TOC
            info = ix._read_toc()
            reader = ix._reader(storage, info.schema, info.segments, info.generation)
            return Searcher(reader, fromindex=ix)
        except Exception as exc:  # garbage gives struct.error, EOFError, pickle errors, ...
            if attempt + 1 < _OPEN_RETRIES and _latest_toc(storage) != toc:
                time.sleep(0.02 * (attempt + 1))
                continue
            raise IndexDamaged(generation.parent, generation, _reason(exc)) from exc
    raise AssertionError("unreachable")


def _latest_toc(storage: FileStorage) -> int | None:
    try:
        return int(whoosh_index.TOC._latest_generation(storage, whoosh_index._DEF_INDEX_NAME))
    except OSError:
        return None  # the generation's folder is gone: a rebuild's cleanup, so it moved


def _reason(exc: BaseException) -> str:
    """The failure in one short line, for logs and the editors' message."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, whoosh_index.EmptyIndexError):
        text = "không có bảng mục lục (TOC)"
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"{name}: {text}"[:200]


def _positive(value: object, default: int) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return default
    return number if number >= 1 else default
