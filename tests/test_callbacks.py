"""Callback data: fits 64 bytes, survives restarts (stateless), rejects anything odd."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.bot.digests.build import from_micros
from bantin.bot.digests.slots import clock_time
from bantin.bot.search import buttons as cb


@pytest.mark.parametrize(
    "button",
    [
        cb.PageButton(2, "relevance", "đảng viên chi bộ"),
        cb.PageButton(1, "newest", "dang vien"),
        cb.RelatedButton("p96706308b70e0af7"),
        cb.RelatedButton("21395276"),
        cb.ReadButton("p96706308b70e0af7", 3),
        cb.NoopButton(),
    ],
)
def test_round_trip(button: cb.Callback) -> None:
    data = cb.encode(button)
    assert len(data.encode("utf-8")) <= 64
    assert cb.decode(data) == button


def test_long_query_is_left_in_the_message() -> None:
    query = "chuyển đổi số trong công tác xây dựng Đảng ở cơ sở năm 2023 của tỉnh Sơn Nguyên"
    data = cb.encode(cb.PageButton(3, "relevance", query))
    assert len(data.encode("utf-8")) <= 64
    assert cb.decode(data) == cb.PageButton(3, "relevance", None)


@pytest.mark.parametrize("data", [None, "", "s|0|r|x", "s|2|z|x", "s|x|r|q", "s|2|r|", "r|", "r|a b",
                                  "f|id|0", "f|id|x", "zzz", "x|1", "r|" + "a" * 70, "s|99999|r|q"])
def test_forged_or_stale_data_is_rejected(data: str | None) -> None:
    with pytest.raises(cb.BadCallback):
        cb.decode(data)


@given(st.text(max_size=80))
def test_decode_never_raises_anything_else(data: str) -> None:
    with contextlib.suppress(cb.BadCallback):
        cb.decode(data)


@given(st.text(min_size=1, max_size=300), st.integers(1, 1000))
def test_any_query_encodes_within_the_limit(query: str, page: int) -> None:
    data = cb.encode(cb.PageButton(page, "newest", query))
    assert len(data.encode("utf-8", "surrogatepass")) <= 64


# Every field of every button kind, filled with what a forger (or a stale client) might send: odd
# digits ("²" passes str.isdigit but not int), trailing newlines, huge and negative numbers.
_ODD = st.sampled_from(["", "0", "1", "²", "٣", "𝟙", "1\n", "0100\n", "2400", "1:abcdef\n", "-1", " 1", "1_0",
                        "zzzzzzzzzzzzz", "0" * 13, "a", "id.x:y-z", "\x1f"])
_FIELD = st.one_of(_ODD, st.text(max_size=14), st.from_regex(r"[0-9a-z]{1,13}", fullmatch=True),
                   st.integers(-(10**22), 10**22).map(str))
_DATA = st.builds(lambda head, fields: "|".join([head, *fields]),
                  st.sampled_from(["s", "r", "f", "x", "d", "d|m", "d|t", "d|x", "d|u", "d|c", "d|s", "d|g", "d|p"]),
                  st.lists(_FIELD, max_size=5))


def _usable(button: cb.Callback) -> None:
    """What the core does with a decoded button's fields must not fail."""
    if isinstance(button, cb.PageButton):
        assert 1 <= button.page <= 1000 and button.sort in ("relevance", "newest") and button.query != ""
    elif isinstance(button, cb.RelatedButton | cb.ReadButton):
        assert cb.id_fits(button.article_id)
        assert not isinstance(button, cb.ReadButton) or 1 <= button.part <= 1000
    elif isinstance(button, cb.DigestMoreButton):
        assert from_micros(button.since_us) < from_micros(button.until_us) and 1 <= button.offset <= 10000
    elif isinstance(button, cb.DigestButton) and button.action == "time":
        clock_time(f"{button.value[:2]}:{button.value[2:]}")


@settings(deadline=None)  # a property, not a timing: a busy machine must not fail it
@given(st.one_of(_DATA, st.text(max_size=80)))
def test_any_data_decodes_to_a_usable_button_or_is_rejected(data: str) -> None:
    try:
        button = cb.decode(data)
    except cb.BadCallback:
        return
    _usable(button)


@pytest.mark.parametrize("data", ["d|m|0|zzzzzzzzzzzzz|1", "d|m|0|1|²", "s|²|r|q", "f|id|²", "r|id\n", "d|t|0100\n",
                                  "d|x|1:abcdef\n", "f|id\n|1", "d|m|0|1|1\n"])
def test_malformed_fields_are_rejected(data: str) -> None:
    with pytest.raises(cb.BadCallback):
        cb.decode(data)


def test_a_digest_more_button_round_trips() -> None:
    button = cb.DigestMoreButton(1_700_000_000_000_000, 1_700_086_400_000_000, 10)
    assert cb.decode(cb.encode(button)) == button
