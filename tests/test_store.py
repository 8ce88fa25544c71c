"""The SQLite article store, on real files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore


def art(i: int, **kw: object) -> Article:
    base: dict[str, object] = {
        "id": f"a{i}", "title": f"Tiêu đề {i}", "paragraphs": (f"Sapo {i}", f"Thân bài {i}"),
        "published": date(2020, 1, 1) + timedelta(days=i), "source": f"/src/{i}.txt",
    }
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field(store: ArticleStore) -> None:
    moment = datetime(2019, 9, 8, 14, 30, tzinfo=VIETNAM_TZ)
    original = art(1, published=moment, author="Đ.T", views=12, url="https://example.vn/1",
                   title="Hoà giải và hòa giải")
    assert store.upsert_many([original]) == ["added"]
    got = store.get("a1")
    assert got is not None
    assert (got.title, got.paragraphs, got.published, got.author, got.views, got.url, got.source) == (
        original.title, original.paragraphs, moment, "Đ.T", 12, "https://example.vn/1", "/src/1.txt")
    assert got.first_seen is not None and got.rev == 1


def test_unchanged_updated_and_first_seen_kept(store: ArticleStore) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.upsert_many([art(1), art(2)], now=t0)
    outcomes = store.upsert_many([art(1), art(2, title="Sửa tiêu đề")], now=t0 + timedelta(days=1))
    assert outcomes == ["unchanged", "updated"]
    updated = store.get("a2")
    assert updated is not None and updated.title == "Sửa tiêu đề" and updated.first_seen == t0


def test_changes_since_reports_upserts_and_deletions(store: ArticleStore) -> None:
    store.upsert_many([art(i) for i in range(5)])
    rev = store.revision()
    store.upsert_many([art(1, title="mới")])
    store.delete_many(["a3", "missing"])
    change = store.changes_since(rev)
    assert [a.id for a in change.upserted] == ["a1"]
    assert change.deleted == ["a3"]
    assert change.rev == store.revision() > rev
    assert store.changes_since(change.rev).upserted == []


def test_readding_a_deleted_article_clears_its_tombstone(store: ArticleStore) -> None:
    store.upsert_many([art(1)])
    store.delete_many(["a1"])
    rev = store.revision()
    store.upsert_many([art(1)])
    change = store.changes_since(0)
    assert [a.id for a in change.upserted] == ["a1"] and change.deleted == []
    assert store.changes_since(rev).upserted[0].id == "a1"


def test_latest_first_seen_and_date_range(store: ArticleStore) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.upsert_many([art(i) for i in range(3)], now=t0)
    store.upsert_many([art(9, published=None)], now=t0 + timedelta(hours=1))
    assert [a.id for a in store.latest(3)] == ["a2", "a1", "a0"]
    assert [a.id for a in store.first_seen_after(t0)] == ["a9"]
    assert store.date_range() == (date(2020, 1, 1), date(2020, 1, 3))


def test_iter_articles_pages_through_everything(store: ArticleStore) -> None:
    store.upsert_many([art(i) for i in range(2500)])
    assert sum(1 for _ in store.iter_articles(batch=300)) == 2500 == store.count()


def test_get_many_keeps_order_and_skips_unknown(store: ArticleStore) -> None:
    store.upsert_many([art(i) for i in range(3)])
    assert [a.id for a in store.get_many(["a2", "zz", "a0"])] == ["a2", "a0"]


def test_source_prefix_lookup_escapes_like_wildcards(store: ArticleStore) -> None:
    store.upsert_many([art(1, source="/src/a_b/1.txt"), art(2, source="/src/axb/2.txt")])
    assert store.ids_by_source_prefix("/src/a_b/") == {"/src/a_b/1.txt": "a1"}


def test_two_connections_see_each_others_commits(tmp_path: Path) -> None:
    path = tmp_path / "articles.sqlite"
    with ArticleStore(path) as writer, ArticleStore(path) as reader:
        writer.upsert_many([art(1)])
        assert reader.get("a1") is not None
        reader.upsert_many([art(2)])
        assert writer.count() == 2
