"""Building digests: which articles, in which order, in which messages; and reading /subscribe."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore
from bantin.bot.digests.build import (
    MAX_TOPICS,
    BadSubscribe,
    TopicMatcher,
    Window,
    build_digest,
    from_micros,
    parse_subscribe,
    recent_window,
    render_digest,
    to_micros,
    topic_tag,
)
from bantin.bot.render import Renderer
from bantin.bot.search import buttons as cb
from tests.fake_botapi import parse_telegram_html

NOW = datetime(2024, 5, 10, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam
RENDERER = Renderer()


def article(n: int, *, seen: datetime, published: date | datetime | None = None, title: str | None = None,
            url: str | None = "https://baodang.vn/{n}") -> Article:
    return Article(id=f"a{n}", title=title or f"Bài số {n}", paragraphs=(f"Nội dung {n}",),
                   published=published if published is not None else seen.astimezone(VIETNAM_TZ).date(),
                   url=url.format(n=n) if url else None, first_seen=seen)


def window(*articles: Article, now: datetime = NOW) -> Window:
    ordered = tuple(sorted(articles, key=lambda a: a.first_seen or NOW, reverse=True))
    return Window(ordered, max((a.first_seen for a in articles if a.first_seen), default=None), now)


def valid(html: str) -> str:
    text, entities = parse_telegram_html(html)
    assert text.strip() and len(text.encode("utf-16-le")) // 2 <= 4096 and len(entities) <= 100
    return text


# -- /subscribe arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "slot", "topics"), [
    ("", None, None),
    ("18:30", "18:30", None),
    ("7h", "07:00", None),
    ("18:30 đảng viên, chuyển đổi số", "18:30", ("đảng viên", "chuyển đổi số")),
    ("07:00, nong thon moi ; hồ tiêu", "07:00", ("nong thon moi", "hồ tiêu")),
    ("7 giờ 30 đảng viên", "07:30", ("đảng viên",)),
    ("6:00 Đảng viên, dang vien, ĐẢNG VIÊN", "06:00", ("Đảng viên",)),  # same search, kept once
    ("20:00 \u200bcầu\u0000 treo  ", "20:00", ("cầu treo",)),
])
def test_subscribe_arguments(args: str, slot: str | None, topics: tuple[str, ...] | None) -> None:
    request = parse_subscribe(args)
    assert request.slot == slot and request.topics == topics


@pytest.mark.parametrize(("args", "reason"), [
    ("25:99", "time"), ("7:75", "time"), ("24h", "time"), ("99", "time"),
    ("abc", "format"), ("đảng viên", "format"),
    ("07:00 " + ", ".join(f"chủ đề {n}" for n in range(MAX_TOPICS + 1)), "too_many"),
    ("07:00 " + "rất dài " * 20, "too_long"),
    ("07:00 " + "x" * 2000, "too_long"),
    ("07:00 😀🎉, !!!", "no_words"),
])
def test_bad_subscribe_arguments_say_why(args: str, reason: str) -> None:
    with pytest.raises(BadSubscribe) as caught:
        parse_subscribe(args)
    assert caught.value.reason == reason


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_subscribe_arguments_never_crash(args: str) -> None:
    try:
        request = parse_subscribe(args)
    except BadSubscribe:
        return
    assert request.topics is None or len(request.topics) <= MAX_TOPICS


# -- choosing articles -----------------------------------------------------------------------------


def test_since_the_previous_digest_newest_first() -> None:
    old, mid, new = (article(n, seen=NOW - timedelta(hours=h)) for n, h in ((1, 30), (2, 20), (3, 1)))
    digest = build_digest(window(old, mid, new), since=NOW - timedelta(hours=24), topics=(), matcher=None)
    assert [a.id for a in digest.articles] == ["a3", "a2"]
    assert digest.until == new.first_seen


def test_late_scraped_pages_count_by_when_we_got_them() -> None:
    late = article(1, seen=NOW - timedelta(hours=2), published=(NOW - timedelta(days=3)).date())
    digest = build_digest(window(late), since=NOW - timedelta(hours=24), topics=(), matcher=None)
    assert [a.id for a in digest.articles] == ["a1"]


def test_never_older_than_seven_days() -> None:
    archive = article(1, seen=NOW - timedelta(hours=1), published=date(2019, 9, 2))  # an old archive, imported
    undated = Article(id="u", title="Không ngày", paragraphs=("x",), first_seen=NOW - timedelta(hours=1))
    stale = article(2, seen=NOW - timedelta(days=8))
    digest = build_digest(window(archive, undated, stale), since=NOW - timedelta(days=30), topics=(), matcher=None)
    assert [a.id for a in digest.articles] == ["u"]
    assert digest.since == NOW - timedelta(days=7)


def test_topics_narrow_with_the_matcher() -> None:
    a, b, c = (article(n, seen=NOW - timedelta(hours=n)) for n in (1, 2, 3))
    matches = {"đảng viên": frozenset({"a1", "a3"}), "hồ tiêu": frozenset({"a2"})}
    digest = build_digest(window(a, b, c), since=NOW - timedelta(days=1), topics=("đảng viên",),
                          matcher=lambda t: matches[t])
    assert [x.id for x in digest.articles] == ["a1", "a3"]
    both = build_digest(window(a, b, c), since=NOW - timedelta(days=1), topics=("đảng viên", "hồ tiêu"),
                        matcher=lambda t: matches[t])
    assert [x.id for x in both.articles] == ["a1", "a2", "a3"]


def test_recent_window_reads_the_store(store: ArticleStore) -> None:
    store.upsert_many([article(1, seen=NOW)], now=NOW - timedelta(days=9))
    store.upsert_many([article(2, seen=NOW), article(3, seen=NOW)], now=NOW - timedelta(hours=3))
    store.upsert_many([article(4, seen=NOW)], now=NOW - timedelta(minutes=5))
    found = recent_window(store, NOW)
    assert [a.id for a in found.articles] == ["a4", "a2", "a3"]  # newest first, ties by id
    assert found.until == NOW - timedelta(minutes=5)
    # An edited article is not news again: first_seen is written once.
    store.upsert_many([article(1, seen=NOW, title="Sửa tiêu đề")], now=NOW)
    assert "a1" not in [a.id for a in recent_window(store, NOW).articles]


def test_window_cursor_is_the_newest_article_not_the_clock(store: ArticleStore) -> None:
    store.upsert_many([article(1, seen=NOW)], now=NOW - timedelta(hours=1))
    w = recent_window(store, NOW + timedelta(hours=5))
    digest = build_digest(w, since=NOW - timedelta(days=1), topics=(), matcher=None)
    assert digest.until == NOW - timedelta(hours=1)


def test_topics_match_like_the_chat_search_but_strictly() -> None:
    """The index package's own parsing and analysis over just the window's articles."""
    items = [
        article(1, seen=NOW - timedelta(hours=1), title="Kết nạp đảng viên mới ở chi bộ thôn Đông"),
        article(2, seen=NOW - timedelta(hours=2), title="Giá hồ tiêu tăng mạnh"),
        article(3, seen=NOW - timedelta(hours=3), title="Đảng bộ xã tổng kết năm cùng đoàn thanh niên"),
        article(4, seen=NOW - timedelta(hours=4), title="Hội nghị chuyển đổi số toàn tỉnh"),
    ]
    matcher = TopicMatcher(window(*items))
    assert matcher("dang vien") == {"a1"}  # no diacritics needed
    assert matcher("ĐẢNG VIÊN") == {"a1"}
    assert matcher("hồ tiêu") == {"a2"}
    assert matcher("dang vien thanh nien") == frozenset()  # every word, never a "relaxed" match
    assert matcher('"doan thanh nien"') == {"a3"}
    assert matcher('"thanh nien doan"') == frozenset()  # a phrase is a phrase
    assert matcher("đảng -chi") == {"a3"}  # exclusions
    assert matcher("chuyen doi so") == {"a4"} and matcher("!!!") == frozenset()
    matcher.close()
    assert TopicMatcher(window())("dang vien") == frozenset()


def test_topic_results_are_memoised_per_saved_search() -> None:
    matcher = TopicMatcher(window(article(1, seen=NOW - timedelta(hours=1), title="Giá hồ tiêu tăng")))
    first = matcher("ho tieu")
    assert matcher("Hồ Tiêu") is first  # the same saved search up to accents and case


# -- rendering -------------------------------------------------------------------------------------


def test_digest_message_is_valid_html_with_links_dates_and_buttons() -> None:
    items = [article(1, seen=NOW - timedelta(hours=1), title="Kết nạp <đảng viên> & \"trẻ\""),
             article(2, seen=NOW - timedelta(hours=2), url=None)]
    digest = build_digest(window(*items), since=NOW - timedelta(days=1), topics=(), matcher=None)
    [part] = render_digest(RENDERER, "vi", digest, size=10)
    text = valid(part.html)
    assert "Kết nạp <đảng viên> & \"trẻ\"" in text and "/xem_a2" in text and "2 bài mới" in text
    assert 'href="https://baodang.vn/1"' in part.html
    datas = [d for row in part.buttons for d in (b.data for b in row)]
    assert datas == [cb.encode(cb.DigestButton("show"))]  # no "more": everything fits
    [en] = render_digest(RENDERER, "en", digest, size=10)
    assert "2 new articles" in valid(en.html)


def test_more_button_carries_the_window_and_continues() -> None:
    items = [article(n, seen=NOW - timedelta(minutes=n)) for n in range(1, 26)]
    digest = build_digest(window(*items), since=NOW - timedelta(days=1), topics=(), matcher=None)
    first = render_digest(RENDERER, "vi", digest, size=10)
    more = [d for part in first for row in part.buttons for d in (b.data for b in row) if d.startswith("d|m|")]
    assert len(more) == 1 and len(more[0].encode()) <= 64
    button = cb.decode(more[0])
    assert isinstance(button, cb.DigestMoreButton) and button.offset == 10
    assert from_micros(button.since_us) == digest.since and from_micros(button.until_us) == digest.until
    again = build_digest(window(*items), since=from_micros(button.since_us), until=from_micros(button.until_us),
                         topics=(), matcher=None)
    rest = render_digest(RENDERER, "vi", again, size=10, offset=button.offset)
    assert "11. " in valid(rest[0].html) and "(tiếp)" in valid(rest[0].html)
    last = render_digest(RENDERER, "vi", again, size=10, offset=20)
    assert not [d for part in last for row in part.buttons for d in (b.data for b in row) if d.startswith("d|m|")]
    assert render_digest(RENDERER, "vi", again, size=10, offset=25) == []


def test_long_digests_split_within_telegrams_limits() -> None:
    title = "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ mười lăm bàn về chuyển đổi số và phát triển " * 3
    items = [article(n, seen=NOW - timedelta(minutes=n), title=f"{n} {title}"[:250]) for n in range(1, 51)]
    digest = build_digest(window(*items), since=NOW - timedelta(days=1), topics=(), matcher=None)
    parts = render_digest(RENDERER, "vi", digest, size=50)
    assert len(parts) >= 3
    texts = [valid(p.html) for p in parts]
    assert all(f"{n}. " in "".join(texts) for n in range(1, 51))
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert f"(Phần 1/{len(parts)})" in texts[0]


def test_microsecond_window_bounds_round_trip() -> None:
    moment = datetime(2024, 5, 1, 12, 30, 45, 123457, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment


def test_topic_tags_are_stable_and_short() -> None:
    assert topic_tag("Đảng viên") == topic_tag("dang vien") and len(topic_tag("x")) == 6
