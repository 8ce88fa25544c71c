"""Searching a small real index: matching, ranking, relaxing, suggesting, paging, snippets."""

from __future__ import annotations

import itertools
import re
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bantin.bot.render import marked
from bantin.index import budget
from bantin.index.searcher import IndexMissing, SearchIndex
from tests.test_index_helpers import article, build, ids

FILLER = "Bà con trong vùng cho biết năm nay thời tiết thuận lợi, mùa màng bội thu."

ARTICLES = [
    article("ban-go", "Chiếc bàn gỗ của làng nghề", "Người thợ đóng chiếc bàn trong ba tháng.", FILLER),
    article("ban-gao", "Giá bán gạo tăng mạnh", "Nông dân bán gạo được giá.", FILLER),
    article("dv-ket-nap", "Kết nạp đảng viên mới", "Xã Đồng Lâm kết nạp 12 đảng viên.", FILLER),
    article("dv-roi-rac", "Đảng bộ xã họp với viên chức", "Hội nghị của đảng bộ có nhiều viên chức dự.", FILLER),
    article("hoa-ban-title", "Lễ hội hoa ban Điện Biên", "Lễ hội mở màn tối qua.", FILLER),
    article("hoa-ban-body", "Du lịch Tây Bắc mùa xuân", "Du khách đổ về vùng cao.",
            "Mùa này hoa ban nở trắng núi rừng."),
    article("hoa-binh", "Thủy điện Hòa Bình xả lũ", "Nhà máy thủy điện mở cửa xả.", FILLER),
    article("ky-luat", "Kỷ luật cán bộ vi phạm", "Ủy ban kiểm tra thi hành kỷ luật.", FILLER),
    article("body-adjacent", "Tin hoạt động cơ sở", "Tin vắn trong tuần.",
            "Trong tuần, chi bộ thôn kết nạp thêm một quần chúng ưu tú làm đảng viên dự bị."),
    article("body-scattered", "Tin hoạt động cơ sở tuần này", "Tin vắn trong tuần.",
            "Trong tuần, đảng ủy xã giao chỉ tiêu cho từng thôn, mỗi thành viên nhận một việc."),
    article("escape", "Giá vàng <tăng> & giảm", "So sánh giá vàng <b>thật</b> & giả.", FILLER),
]
WEATHER = [
    article(f"tt-{i:02d}", f"Dự báo thời tiết số {i}", f"Bản tin thời tiết thứ {i}.",
            "Trời mưa rào." if i % 3 == 0 else "Trời nắng nóng.",
            published=date(2019, 9, 1 + i) if i < 6 else date(2020, 1, i))
    for i in range(12)
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    store, root = build(tmp_path_factory.mktemp("search"), ARTICLES + WEATHER)
    store.close()
    with SearchIndex.open(root) as opened:
        yield opened


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    assert not SearchIndex.exists(tmp_path / "index")
    with pytest.raises(IndexMissing, match="chỉ mục"):
        SearchIndex.open(tmp_path / "index")


def test_exact_accents_rank_above_folded_matches(index: SearchIndex) -> None:
    assert ids(index, "bàn")[0] == "ban-go"
    assert ids(index, "bán")[0] == "ban-gao"
    assert set(ids(index, "ban")) >= {"ban-go", "ban-gao"}  # unaccented: both


def test_unaccented_uppercase_and_tone_variants_find_the_accented_article(index: SearchIndex) -> None:
    for query in ("ky luat can bo", "KỶ LUẬT CÁN BỘ", "Kỷ Luật cán bộ"):
        assert ids(index, query)[0] == "ky-luat"
    for query in ("thuỷ điện hoà bình", "thủy điện hòa bình", "thuy dien hoa binh"):
        assert ids(index, query)[0] == "hoa-binh"


def test_adjacent_syllables_outrank_scattered_ones(index: SearchIndex) -> None:
    found = ids(index, "đảng viên")
    assert found.index("dv-ket-nap") < found.index("dv-roi-rac")
    found = ids(index, "dang vien", per_page=20)
    assert found.index("body-adjacent") < found.index("body-scattered")  # in the body too


def test_title_beats_body(index: SearchIndex) -> None:
    assert ids(index, "hoa ban")[:2] == ["hoa-ban-title", "hoa-ban-body"]


def test_quoted_phrase_needs_the_words_together(index: SearchIndex) -> None:
    found = ids(index, '"đảng viên"', per_page=20)
    assert "dv-ket-nap" in found and "body-adjacent" in found
    assert "dv-roi-rac" not in found and "body-scattered" not in found


def test_exclusion(index: SearchIndex) -> None:
    assert {"tt-00", "tt-03"} <= set(ids(index, "thời tiết", per_page=20))
    excluded = set(ids(index, "thời tiết -mưa", per_page=20))
    assert excluded and not excluded & {"tt-00", "tt-03", "tt-06", "tt-09"}


def test_month_and_year_filters(index: SearchIndex) -> None:
    september = index.search("thời tiết tháng 9/2019", per_page=20)
    assert september.total == 6 and {h.id for h in september.results} == {f"tt-{i:02d}" for i in range(6)}
    assert index.search("thoi tiet 2020", per_page=20).total == 6
    assert index.search("9/2019").total == 6  # a date alone lists that month
    # nothing dated then: the date is read as words ("2031" appears nowhere, so this relaxes)
    assert index.search("thời tiết 2031").results
    assert ids(index, "số 11")[0] == "tt-11" and ids(index, "11") == ["tt-11"]  # a number, not a year
    assert index.search("2030").total == 0


def test_relaxes_when_all_words_find_too_little(index: SearchIndex) -> None:
    page = index.search("kết nạp đảng viên zzqxw")
    assert page.relaxed and page.results[0].id == "dv-ket-nap"
    strict = index.search("đảng viên")  # four articles have both words: enough, nothing relaxed
    assert not strict.relaxed and strict.total == 4 and strict.results[0].id == "dv-ket-nap"


def test_strict_matches_come_before_relaxed_ones(index: SearchIndex) -> None:
    page = index.search("giá vàng giảm mạnh", per_page=10)  # only "escape" has vàng + giảm, none has all
    assert page.relaxed
    assert page.results[0].id == "escape"


def test_did_you_mean(index: SearchIndex) -> None:
    assert index.search("ket nap dangvien").suggestion == "ket nap dang vien"
    assert index.search("kết nạp đảng viiên").suggestion == "kết nạp đảng viên"
    assert index.search("ddangr vieen").suggestion == "dang vien"  # Telex keys left in
    assert index.search("kết nạp đảng viên").suggestion is None
    assert index.search("qqqqzzzz").suggestion is None


def test_a_very_long_word_is_not_corrected(index: SearchIndex) -> None:
    # Bug: two-edit candidates of a 200-letter word took 55 s of CPU, long enough for a
    # user typing one to time out and hold a search worker busy.
    assert index.search("x" * 200).suggestion is None
    assert index.search("kết nạp " + "đ" * 40).suggestion is None


def test_pagination_and_sort(index: SearchIndex) -> None:
    first = index.search("dự báo thời tiết", per_page=5)
    assert (first.total, first.pages, len(first.results)) == (12, 3, 5)
    pages = [index.search("dự báo thời tiết", per_page=5, page=p) for p in (1, 2, 3)]
    seen = [h.id for p in pages for h in p.results]
    assert len(seen) == len(set(seen)) == 12
    beyond = index.search("dự báo thời tiết", per_page=5, page=9)
    assert beyond.total == 12 and beyond.results == [] and beyond.page == 9
    newest = index.search("dự báo thời tiết", per_page=12, sort="newest")
    dates = [h.published for h in newest.results]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert newest.results[0].id == "tt-11"


@pytest.mark.parametrize("query", ["", "   ", "🙂🙂", "!!!", "\x00", "-", '""', "\u0301"])
def test_empty_queries_give_an_empty_page(index: SearchIndex, query: str) -> None:
    page = index.search(query)
    assert (page.total, page.results, page.pages, page.suggestion) == (0, [], 0, None)
    assert page.to_json()["total"] == 0


def test_odd_paging_values_are_tolerated(index: SearchIndex) -> None:
    assert index.search("thời tiết", page=0, per_page=-3).page == 1
    assert index.search("thời tiết", page="x", per_page=10_000, sort="bogus").results  # type: ignore[arg-type]


def test_snippet_is_html_safe_short_and_marks_the_words(index: SearchIndex) -> None:
    hit = index.search("gia vang").results[0]
    assert hit.id == "escape"
    snippet = marked(hit.snippet)  # as every template shows it
    assert "<b>giá vàng</b>" in snippet
    assert "&lt;b&gt;thật&lt;/b&gt;" in snippet and "&amp;" in snippet
    assert re.sub(r"</?b>", "", snippet).count("<") == 0
    long = index.search("đảng viên dự bị").results[0]
    assert long.id == "body-adjacent" and "<b>đảng viên dự bị</b>" in marked(long.snippet)  # found in the body
    for page in (index.search("thời tiết"), index.search("hoa ban")):
        for h in page.results:
            assert len(re.sub(r"</?b>", "", marked(h.snippet))) <= 200


def test_json_contract(index: SearchIndex) -> None:
    data = index.search("kỷ luật").to_json()
    assert {"query", "total", "page", "results", "suggestion"} <= set(data)
    assert data["query"] == "kỷ luật" and data["total"] >= 1
    assert set(data["results"][0]) == {"id", "title", "published", "url", "snippet", "score"}
    dated = index.search("thời tiết 9/2019").results[0].to_json()
    assert re.fullmatch(r"2019-09-\d\d", dated["published"])


def test_facts(index: SearchIndex) -> None:
    assert index.doc_count() == len(ARTICLES) + len(WEATHER)
    assert index.size_bytes() > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120), page=st.integers(-3, 50), per_page=st.integers(-3, 80),
       sort=st.sampled_from(["relevance", "newest", "x"]))
def test_search_never_raises(index: SearchIndex, text: str, page: int, per_page: int, sort: str) -> None:
    result = index.search(text, page=page, per_page=per_page, sort=sort)
    assert result.total >= len(result.results)
    assert all("<script" not in marked(h.snippet) for h in result.results)


def test_a_search_stops_inside_the_engine_when_its_deadline_passes(index: SearchIndex,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert index.search("thời tiết", deadline=time.time() - 1).timed_out
    # The deadline passes mid-search: every look at the clock moves it on by a second.
    looks: list[str] = []
    clock = iter(itertools.count(start=time.time(), step=1.0))

    def ticking() -> float:
        looks.append(sys._getframe(2).f_code.co_name)  # who asked Budget.check / Budget.remaining
        return next(clock)

    monkeypatch.setattr(budget.time, "time", ticking)
    page = index.search('"thời tiết" mưa', deadline=time.time() + 3.5)
    assert page.timed_out and not page.results
    assert looks[-1] == "spend"  # stopped by a check made inside a loop, not only between steps
    monkeypatch.undo()
    assert not index.search('"thời tiết" mưa').timed_out  # and the index is fine afterwards
