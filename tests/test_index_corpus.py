"""A smoke test on 2,000 real articles of the shared corpus (skipped with a reason when absent)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot.render import marked
from bantin.index.analysis import fold
from bantin.index.maintenance import rebuild_index, update_index
from bantin.index.searcher import SearchIndex
from tests.conftest import corpus_articles

pytestmark = pytest.mark.corpus
SIZE = 2000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Article], SearchIndex]]:
    articles = corpus_articles(SIZE)
    folder = tmp_path_factory.mktemp("corpus")
    with ArticleStore(folder / "articles.sqlite") as store:
        store.upsert_many(articles)
        update = rebuild_index(store, folder / "index", workers=2)
        assert update.docs == len(articles)
        assert update_index(store, folder / "index").added == 0
    with SearchIndex.open(folder / "index") as index:
        yield articles, index


def test_titles_find_their_article_however_they_are_typed(corpus: tuple[list[Article], SearchIndex]) -> None:
    articles, index = corpus
    titles: dict[str, set[str]] = {}
    for a in articles:
        titles.setdefault(a.title.lower(), set()).add(a.id)
    sample = [a for a in articles if len(a.title.split()) >= 5][:: SIZE // 40]
    found = {"accented": 0, "unaccented": 0, "upper": 0}
    for a in sample:
        wanted = titles[a.title.lower()]
        for kind, query in (("accented", a.title), ("unaccented", fold(a.title)), ("upper", a.title.upper())):
            top = [h.id for h in index.search(query, per_page=3).results]
            found[kind] += bool(wanted & set(top))
    for kind, hits in found.items():
        assert hits >= 0.9 * len(sample), (kind, hits, len(sample))


def test_results_are_well_formed(corpus: tuple[list[Article], SearchIndex]) -> None:
    _, index = corpus
    for query in ("đảng viên", "giá vàng", "bong da", "Hà Nội", "tai nạn giao thông", "covid"):
        page = index.search(query, per_page=10)
        assert page.total >= len(page.results)
        for hit in page.results:
            markup_free = re.sub(r"</?b>", "", marked(hit.snippet))
            assert "<" not in markup_free and ">" not in markup_free
            assert len(html.unescape(markup_free)) <= 200
            assert hit.to_json()["id"] == hit.id


def test_related_on_real_articles(corpus: tuple[list[Article], SearchIndex]) -> None:
    articles, index = corpus
    with_related = 0
    for a in articles[:: SIZE // 20]:
        related = index.related(a.id)
        assert a.id not in {h.id for h in related}
        assert len(related) <= 5
        with_related += bool(related)
    assert with_related >= 15


def test_issue_14_examples_on_real_articles(corpus: tuple[list[Article], SearchIndex]) -> None:
    articles, index = corpus
    texts = {a.id: fold(a.text).lower() for a in articles}
    assert index.search("tham nhng").suggestion == "tham nhung"
    assert index.search("tham nhũg").suggestion == "tham nhũng"  # beside "tham", not "những"
    page = index.search("hoi dong nhan dan", per_page=5)
    units = 0  # the unit, not "Hội đồng Nhân quyền" or "Viện Kiểm sát nhân dân"
    for hit in page.results[:3]:
        units += "hoi dong nhan dan" in texts[hit.id] or "hdnd" in texts[hit.id]
    assert units >= 2, [hit.title for hit in page.results]
