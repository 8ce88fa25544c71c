"""Callback data: fits 64 bytes, survives restarts (stateless), rejects anything odd."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import callbacks as cb


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
