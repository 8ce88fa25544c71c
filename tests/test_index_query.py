"""The query layer on its own: parsing what people type, and the Whoosh queries built from it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import query as wq

from bantin.index.query import (
    MAX_CHARS,
    MAX_WORDS,
    ParsedQuery,
    build_query,
    match_query,
    parse_query,
    phrase_pattern,
    rank_query,
)


def folded(parsed: ParsedQuery) -> list[str]:
    return [w.folded for w in parsed.words]


def terms(query: wq.Query) -> set[tuple[str, str]]:
    return {(t.fieldname, t.text) for t in query.leaves() if isinstance(t, wq.Term)}


def test_plain_keywords_keep_exact_and_folded_forms() -> None:
    parsed = parse_query("  Đảng VIÊN hoà  ")
    assert [(w.exact, w.folded) for w in parsed.words] == [("đảng", "dang"), ("viên", "vien"), ("hòa", "hoa")]
    assert [w.accented for w in parse_query("dang viên").words] == [False, True]
    assert parsed.text() == "đảng viên hòa"


def test_default_is_and_of_folded_words_in_the_whole_text() -> None:
    q = match_query(parse_query("Đảng viên"))
    assert isinstance(q, wq.And)
    assert terms(q) == {("text", "dang"), ("text", "vien")}


def test_rank_query_rewards_exact_accents_and_adjacent_pairs() -> None:
    found = terms(rank_query(parse_query("đảng viên")))
    assert {("title", "dang"), ("title", "đảng"), ("lead", "viên"), ("text", "vien")} <= found
    assert ("title", "dang_vien") in found and ("lead", "dang_vien") in found
    unaccented = terms(rank_query(parse_query("dang vien")))
    assert ("title", "đảng") not in unaccented and ("title", "dang_vien") in unaccented


def test_punctuation_breaks_word_pairs() -> None:
    found = terms(rank_query(parse_query("hà nội, đà nẵng")))
    assert ("title", "ha_noi") in found and ("title", "da_nang") in found
    assert ("title", "noi_da") not in found


def test_quoted_phrase() -> None:
    parsed = parse_query('"đảng viên" kỷ luật')
    assert folded(parsed) == ["dang", "vien", "ky", "luat"]
    assert [[w.folded for w in p] for p in parsed.phrases] == [["dang", "vien"]]
    assert phrase_pattern(parsed.phrases[0]).search("ket nap dang  vien moi")
    assert not phrase_pattern(parsed.phrases[0]).search("dang ky vien chuc")
    # curly quotes from phones count too; an unclosed quote is just a character
    assert parse_query("“đảng viên”").phrases == parsed.phrases
    assert folded(parse_query('"đảng viên')) == ["dang", "vien"]


def test_exclusion() -> None:
    parsed = parse_query("bão -lũ miền trung")
    assert folded(parsed) == ["bao", "mien", "trung"]
    assert [[w.folded for w in group] for group in parsed.excluded] == [["lu"]]
    q = match_query(parsed)
    assert isinstance(q, wq.AndNot) and terms(q.b) == {("text", "lu")}
    assert [[w.folded for w in g] for g in parse_query('bão -"siêu bão"').excluded] == [["sieu", "bao"]]
    assert parse_query("covid-19").excluded == ()  # a hyphen inside a word is not an exclusion
    assert parse_query("-lũ").empty  # nothing left to search for


@pytest.mark.parametrize(
    ("typed", "year", "month", "words"),
    [
        ("bão 2019", 2019, None, ["bao"]),
        ("bão năm 2019", 2019, None, ["bao"]),
        ("bão 9/2019", 2019, 9, ["bao"]),
        ("bão 09/2019", 2019, 9, ["bao"]),
        ("tháng 9/2019 bão", 2019, 9, ["bao"]),
        ("thang 9 2019 bao", 2019, 9, ["bao"]),
        ("tháng 9 năm 2019 bão", 2019, 9, ["bao"]),
        ("bão 2019-09", 2019, 9, ["bao"]),
        ("việt nam 2019", 2019, None, ["viet", "nam"]),  # "Nam" stays a word
        ("xổ số ngày 6/2/2017", None, None, ["xo", "so", "ngay", "6", "2", "2017"]),  # a day: words
        ("bão 13/2019", None, None, ["bao", "13", "2019"]),  # no 13th month: words
        ("bão -2019", None, None, ["bao"]),
    ],
)
def test_dates_typed_naturally(typed: str, year: int | None, month: int | None, words: list[str]) -> None:
    parsed = parse_query(typed)
    assert (parsed.year, parsed.month) == (year, month)
    assert folded(parsed) == words


def test_date_can_be_read_back_as_words() -> None:
    parsed = parse_query("bão tháng 9/2019")
    assert parsed.period == "2019-09"
    assert folded(parsed.without_date()) == ["bao", "9", "2019"]
    assert parse_query("2019").period == "2019" and not parse_query("2019").empty


def test_long_queries_are_truncated() -> None:
    parsed = parse_query(" ".join(f"từ{i}" for i in range(40)))
    assert len(parsed.words) == MAX_WORDS and parsed.truncated
    assert parse_query("a" * 5000).truncated
    assert len(parse_query("ab " * 1000).text()) <= MAX_CHARS
    assert not parse_query("đảng viên").truncated


@pytest.mark.parametrize("garbage", ["", "   ", "🙂🙂🙂", "!!!???", "\x00\x07", "\u0301", '""', "-", "- - -", "\u200b"])
def test_garbage_parses_as_empty(garbage: str) -> None:
    parsed = parse_query(garbage)
    assert parsed.empty
    assert build_query(parsed) is wq.NullQuery


def test_non_strings_parse_as_empty() -> None:
    assert parse_query(None).empty and parse_query(42).empty


def test_build_query_combines_match_and_rank() -> None:
    q = build_query("đảng viên")
    assert isinstance(q, wq.AndMaybe)
    assert all(t.boost == 0 for t in q.a.leaves())  # matching never scores by itself


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_and_builds(text: str) -> None:
    parsed = parse_query(text)
    assert len(parsed.words) <= MAX_WORDS
    query = build_query(parsed)
    assert query is wq.NullQuery or query.leaves()
    for phrase in parsed.phrases:
        phrase_pattern(phrase)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["bão", '"', "-", "tháng", "9/2019", "2019", "đảng", "viên", " ", "hoà", "-x", "“"]),
                max_size=20))
def test_query_like_noise_parses_and_builds(parts: list[str]) -> None:
    build_query(parse_query(" ".join(parts)))
    build_query(parse_query("".join(parts)))
