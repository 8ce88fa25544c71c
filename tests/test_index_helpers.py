"""Small builders shared by the index tests (real stores, real Whoosh indexes in tmp_path)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.index.maintenance import rebuild_index
from bantin.index.searcher import SearchIndex


def article(
    article_id: str,
    title: str,
    lead: str = "",
    body: str = "",
    *,
    published: date | None = None,
    url: str | None = None,
) -> Article:
    paragraphs = tuple(p for p in (lead or f"Tóm tắt {article_id}.", *body.split("\n\n")) if p)
    return Article(id=article_id, title=title, paragraphs=paragraphs, published=published, url=url)


def build(folder: Path, articles: Iterable[Article]) -> tuple[ArticleStore, Path]:
    """A store holding `articles` and a fresh index of it under `folder`."""
    store = ArticleStore(folder / "articles.sqlite")
    store.upsert_many(list(articles))
    root = folder / "index"
    rebuild_index(store, root, workers=1)
    return store, root


def ids(index: SearchIndex, query: str, **options: object) -> list[str]:
    return [hit.id for hit in index.search(query, **options).results]  # type: ignore[arg-type]


def test_builders_make_a_searchable_index(tmp_path: Path) -> None:
    store, root = build(tmp_path, [article("a1", "Bản tin thử", "Mở đầu.", "Thân bài.")])
    with SearchIndex.open(root) as index:
        assert ids(index, "ban tin") == ["a1"]
    store.close()
