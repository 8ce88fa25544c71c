"""What citizens are told while there is no usable index: prepared (with progress) or repaired."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.index.maintenance import rebuild_index, update_index
from tests.damage import KINDS, damage
from tests.test_index_helpers import article


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    with ArticleStore(tmp_path / "articles.sqlite") as opened:
        opened.upsert_many([article("a", "Kết nạp đảng viên mới"), article("b", "Giá lúa tăng")])
        yield opened


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_index_is_being_repaired_then_searches_again(
        store: ArticleStore, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    root = tmp_path / "index"
    update_index(store, root)
    damage(root, kind)
    core = Core(store, root)
    with caplog.at_level(logging.INFO):
        for lang, words in (("vi", "đang được sửa"), ("en", "being repaired"), ("vi", "đang được sửa")):
            reply = core.search("ket nap", lang)
            assert words in reply.html and "Traceback" not in reply.html
        assert words in core.related("a", "vi").html
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "reindex --full" in errors[0].getMessage()
    assert core.damage is not None
    rebuild_index(store, root)
    assert "Kết nạp" in core.search("ket nap", "vi").html  # the new generation is picked up
    assert core.damage is None
    core.close()


def test_being_prepared_says_how_far_it_got(store: ArticleStore, tmp_path: Path) -> None:
    progress: tuple[int, int] | None = (12000, 35440)
    core = Core(store, tmp_path / "index", index_progress=lambda: progress)
    assert "đã xong 12.000/35.440 bài" in core.search("ket nap", "vi").html
    assert "12,000/35,440 articles done" in core.search("ket nap", "en").html
    progress = (0, 0)  # still reading the sources: no count yet
    assert "đang được chuẩn bị" in core.search("ket nap", "vi").html
    # Nothing is preparing it any more (the build failed): not "being prepared" forever.
    progress = None
    assert "đang được sửa" in core.search("ket nap", "vi").html
    update_index(store, tmp_path / "index")
    assert "Kết nạp" in core.search("ket nap", "vi").html
    core.close()


def test_the_console_without_an_index_is_still_being_prepared(store: ArticleStore, tmp_path: Path) -> None:
    core = Core(store, tmp_path / "index")
    assert "đang được chuẩn bị" in core.search("ket nap", "vi").html
