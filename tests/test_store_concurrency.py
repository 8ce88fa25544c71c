"""Two writers (the bot's scan and a cron'd `bantin ingest`) and a reader on one store file.

The races are forced by interleaving the calls directly: store B's revision read is hooked so
that store A writes right after it. Store A gives up at once when the file is locked (busy
timeout 0), so with correct locking it writes after B instead, and the test never waits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from tests.test_store import art


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ArticleStore, ArticleStore]]:
    path = tmp_path / "articles.sqlite"
    with ArticleStore(path) as a, ArticleStore(path) as b:
        a._db.execute("PRAGMA busy_timeout=0")
        yield a, b


def _at_revision_read(
    store: ArticleStore, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None], *, before: bool = False
) -> list[bool]:
    """Run `meanwhile` once, right after (or just before) `store` reads its revision.

    Returns [True] when it ran then, [False] when the file was locked (it must run later).
    """
    original = store.revision
    ran: list[bool] = []

    def hooked() -> int:
        value = original() if not before else 0
        if not ran:
            try:
                meanwhile()
                ran.append(True)
            except sqlite3.OperationalError as exc:  # locked: the other writer waits its turn
                assert "locked" in str(exc)
                ran.append(False)
        return original() if before else value

    monkeypatch.setattr(store, "revision", hooked)
    return ran


def _revisions(store: ArticleStore) -> dict[str, int]:
    return {a.id: a.rev for a in store.iter_articles()}


def test_concurrent_upserts_never_reuse_or_lower_the_revision(
    pair: tuple[ArticleStore, ArticleStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a.upsert_many([art(i) for i in range(4)])
    seen = a.revision()  # what an index update saw before the two writers
    ran = _at_revision_read(b, monkeypatch, lambda: a.upsert_many([art(100), art(101)]))
    b.upsert_many([art(1, title="sửa"), art(200)])
    if ran != [True]:
        a.upsert_many([art(100), art(101)])
    revs = _revisions(a)
    assert a.revision() >= seen + 4 and a.revision() == max(revs.values())
    assert len(set(revs.values())) == len(revs)  # no two articles share a revision
    changed = {x.id for x in a.changes_since(seen).upserted}
    assert changed == {"a1", "a100", "a101", "a200"}  # the next incremental update gets them all


def test_concurrent_delete_and_upsert_keep_revisions_apart(
    pair: tuple[ArticleStore, ArticleStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a.upsert_many([art(i) for i in range(4)])
    seen = a.revision()
    ran = _at_revision_read(b, monkeypatch, lambda: a.upsert_many([art(100)]))
    b.delete_many(["a2"])
    if ran != [True]:
        a.upsert_many([art(100)])
    change = a.changes_since(seen)
    assert [x.id for x in change.upserted] == ["a100"] and change.deleted == ["a2"]
    assert change.rev == a.revision() == seen + 2


def test_changes_since_never_covers_a_change_it_did_not_return(
    pair: tuple[ArticleStore, ArticleStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a.upsert_many([art(i) for i in range(3)])
    seen = b.revision()
    b._db.execute("PRAGMA busy_timeout=0")
    a._db.execute("PRAGMA busy_timeout=30000")
    # A commits between the reader's row query and its look at the top revision.
    _at_revision_read(b, monkeypatch, lambda: a.upsert_many([art(100)]), before=True)
    first = b.changes_since(seen)
    monkeypatch.undo()
    second = b.changes_since(first.rev)
    got = {x.id for x in first.upserted} | {x.id for x in second.upserted}
    assert "a100" in got
