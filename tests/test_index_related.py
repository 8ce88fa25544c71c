"""Related articles: about the same thing, never the article itself or copies of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bantin.index.searcher import SearchIndex
from tests.test_index_helpers import article, build

STORM_BODY = (
    "Gió giật mạnh làm tốc mái hàng trăm ngôi nhà, nhiều tuyến đường ngập sâu.\n\n"
    "Chính quyền đã sơ tán hàng nghìn hộ dân ven biển đến nơi an toàn."
)
ARTICLES = [
    article("src", "Bão số 10 đổ bộ vào Quảng Bình", "Cơn bão số 10 gây mưa lớn ở Quảng Bình và Hà Tĩnh.", STORM_BODY),
    article("src-copy", "Bão số 10 đổ bộ vào Quảng Bình", "Cơn bão số 10 gây mưa lớn ở Quảng Bình và Hà Tĩnh.",
            STORM_BODY),
    article("src-near", "Bão số 10 đổ bộ vào Quảng Bình gây thiệt hại",
            "Cơn bão số 10 gây mưa lớn ở Quảng Bình và Hà Tĩnh.", STORM_BODY + " Ảnh: Báo địa phương."),
    article("rel-1", "Quảng Bình khắc phục hậu quả bão số 10", "Sau bão, tỉnh huy động lực lượng dọn dẹp.",
            "Hàng trăm ngôi nhà bị tốc mái đang được sửa lại, đường ngập đã rút nước."),
    article("rel-1-copy", "Quảng Bình khắc phục hậu quả bão số 10 (ảnh)", "Sau bão, tỉnh huy động lực lượng dọn dẹp.",
            "Hàng trăm ngôi nhà bị tốc mái đang được sửa lại, đường ngập đã rút nước."),
    article("rel-2", "Hà Tĩnh sơ tán dân tránh bão", "Hàng nghìn hộ dân ven biển được đưa đến nơi an toàn.",
            "Mưa lớn kéo dài, gió giật mạnh ở các huyện ven biển."),
    article("other-1", "Giá vàng hôm nay tăng nhẹ", "Vàng miếng tăng 50.000 đồng mỗi lượng.", "Thị trường ổn định."),
    article("other-2", "Đội tuyển bóng đá tập huấn", "Đội tuyển quốc gia hội quân chuẩn bị giải đấu.", "Tập luyện."),
    article("other-3", "Khai giảng năm học mới", "Học sinh cả nước bước vào năm học mới.", "Lễ khai giảng."),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    store, root = build(tmp_path_factory.mktemp("related"), ARTICLES)
    store.close()
    with SearchIndex.open(root) as opened:
        yield opened


def test_related_finds_the_same_story_and_skips_itself_and_copies(index: SearchIndex) -> None:
    found = [hit.id for hit in index.related("src")]
    assert found[:2] in (["rel-1", "rel-2"], ["rel-1-copy", "rel-2"], ["rel-2", "rel-1"], ["rel-2", "rel-1-copy"])
    assert not {"src", "src-copy", "src-near"} & set(found)
    assert not {"rel-1", "rel-1-copy"} <= set(found)  # one copy of a story is enough
    assert len(found) <= 5


def test_related_hits_carry_display_data(index: SearchIndex) -> None:
    hit = index.related("src", limit=1)[0]
    assert hit.title and hit.snippet and hit.score > 0
    assert set(hit.to_json()) == {"id", "title", "published", "url", "snippet", "score"}


@pytest.mark.parametrize("unknown", ["nope", "", "src' OR 1=1"])
def test_unknown_article_has_nothing_related(index: SearchIndex, unknown: str) -> None:
    assert index.related(unknown) == []


def test_limit(index: SearchIndex) -> None:
    assert len(index.related("rel-2", limit=2)) <= 2
    assert index.related("rel-2", limit=0) == index.related("rel-2", limit=5)[:5]
