"""Vietnamese analysis: exact and folded syllables, tone placement, bigrams, Whoosh compatibility."""

from __future__ import annotations

import pickle
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from bantin.index.analysis import (
    BigramFilter,
    FoldFilter,
    ToneFilter,
    VietnameseTokenizer,
    fold,
    normalize_word,
    place_tone,
    query_syllables,
    vietnamese_analyzer,
    word_start_matches,
)
from bantin.index.schema import SCHEMA, build_schema


def index_terms(text: str, **options: bool) -> list[str]:
    return [t.text for t in vietnamese_analyzer(**options)(text, mode="index")]


def test_fold_removes_every_mark_and_d_stroke() -> None:
    assert fold("Đảng viên ưu tú Hòa Bình") == "Dang vien uu tu Hoa Binh"
    assert fold("đường") == "duong"
    assert fold("plain ascii") == "plain ascii"


def test_exact_and_folded_tokens_side_by_side() -> None:
    assert index_terms("Đảng viên", bigrams=False) == ["đảng", "dang", "viên", "vien"]
    # a syllable without marks is emitted once: exact terms always carry a mark
    assert index_terms("Hà Nam", bigrams=False) == ["hà", "ha", "nam"]


def test_folded_only_field() -> None:
    assert index_terms("Đảng VIÊN, hoà bình", exact=False, bigrams=False) == ["dang", "vien", "hoa", "binh"]


def test_uppercase_and_nfd_input_give_the_same_tokens() -> None:
    composed = index_terms("Đảng viên hòa bình")
    assert index_terms("ĐẢNG VIÊN HÒA BÌNH") == composed
    assert index_terms(unicodedata.normalize("NFD", "Đảng viên hòa bình")) == composed


@pytest.mark.parametrize(
    ("old", "new"),
    [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("lũy", "luỹ"), ("hóa", "hoá"), ("ủy", "uỷ")],
)
def test_tone_placement_old_and_new_style_meet(old: str, new: str) -> None:
    assert place_tone(new) == old  # canonical: the old style the archive uses
    assert place_tone(old) == old
    assert place_tone(old, modern=True) == new
    assert normalize_word(new.upper()) == old


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("qúy", "quý"), ("gìa", "già"), ("ngòai", "ngoài"), ("người", "người"), ("hoàng", "hoàng"), ("khuỷu", "khuỷu")],
)
def test_misplaced_tones_are_moved_to_the_right_vowel(typed: str, canonical: str) -> None:
    assert place_tone(typed) == canonical


def test_non_vietnamese_words_are_left_alone() -> None:
    assert place_tone("café") == "café"
    assert place_tone("covid") == "covid"


def test_bigrams_join_adjacent_folded_syllables_but_not_across_punctuation() -> None:
    terms = index_terms("Đảng viên. Hà Nội")
    assert "dang_vien" in terms and "ha_noi" in terms
    assert "vien_ha" not in terms


def test_query_mode_yields_only_normalised_exact_syllables() -> None:
    analyzer = vietnamese_analyzer()
    assert [t.text for t in analyzer("ĐẢNG viên hoà", mode="query")] == ["đảng", "viên", "hòa"]
    assert query_syllables("a, b c") == [("a", True), ("b", True), ("c", False)]


@pytest.mark.parametrize("text", ["", "   ", "...!!!", "🙂🙂", "\u0301\u0300"])
def test_empty_or_symbol_only_text_yields_nothing(text: str) -> None:
    assert index_terms(text) == []
    assert query_syllables(text) == []


def test_components_pickle_and_compare_by_value() -> None:
    for component in (VietnameseTokenizer(), ToneFilter(), BigramFilter(), FoldFilter(keep_exact=False)):
        clone = pickle.loads(pickle.dumps(component))
        assert clone == component
        assert type(clone).__module__ == "bantin.index.analysis"
    assert pickle.loads(pickle.dumps(vietnamese_analyzer())) == vietnamese_analyzer()
    assert FoldFilter(keep_exact=True) != FoldFilter(keep_exact=False)


def test_schema_survives_the_index_round_trip(tmp_path: Path) -> None:
    whoosh_index.create_in(str(tmp_path), SCHEMA)
    stored = whoosh_index.open_dir(str(tmp_path)).schema  # unpickled from the TOC
    assert stored.names() == build_schema().names()
    for name in ("title", "lead", "text"):  # (Whoosh's column objects compare by identity)
        assert stored[name] == SCHEMA[name]
        assert stored[name].analyzer == SCHEMA[name].analyzer


@given(st.text(alphabet="an bh-_x1é", max_size=40), st.lists(st.sampled_from(["an", "anh", "a", "b1", "é"]),
                                                               min_size=1, max_size=3))
def test_word_start_matches_equal_a_lookbehind_pattern(text: str, words: list[str]) -> None:
    wanted = sorted(set(words), key=len, reverse=True)
    body = "(?:" + "|".join(map(re.escape, wanted)) + r")(?![^\W_])"
    slow = [m.span() for m in re.finditer(r"(?<![^\W_])" + body, text)]
    assert [m.span() for m in word_start_matches(re.compile(body), text)] == slow
