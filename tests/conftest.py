"""Shared fixtures: real SQLite stores, the shared corpus (skipped with a reason when absent), and
the defaults of the end-to-end tests (a module may override them with its own)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.jsonl import RecordError, read_jsonl
from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.render import Renderer
from bantin.index.maintenance import update_index
from tests.fake_botapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "data" / "vn-news-35k.jsonl.gz"
REAL_SAMPLE = SHARED / "samples" / "000_1a9bdbe082a5a5f9.txt"
SAMPLES = ROOT / "articles" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def need_shared(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data lives beside the checkout (CI has it)")


@pytest.fixture
def corpus_path() -> Path:
    need_shared(CORPUS)
    return CORPUS


def corpus_articles(limit: int) -> list[Article]:
    """The first `limit` good articles of the shared corpus."""
    need_shared(CORPUS)
    good = (a for a in read_jsonl(CORPUS) if not isinstance(a, RecordError))
    return list(itertools.islice(good, limit))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as s:
        yield s


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store and index over the bundled samples, built once per module and copied per test."""
    from tests.e2e import prepare_data

    data = tmp_path_factory.mktemp("template")
    prepare_data(data)
    return data


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of `template` for one test (the bot under test writes into it)."""
    copy = tmp_path / "data"
    shutil.copytree(template, copy)
    return copy


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    """The local Bot API server (tests/fake_botapi.py)."""
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    """A chat's replies over the bundled samples, indexed (shared by a module's tests)."""
    data = tmp_path_factory.mktemp("data")
    store = ArticleStore(data / "articles.sqlite")
    ingest(store, [SAMPLES])
    update_index(store, data / "index")
    c = Core(store, data / "index", Renderer(), per_page=5, bot_username="bantin_bot")
    yield c
    c.close()
    store.close()
