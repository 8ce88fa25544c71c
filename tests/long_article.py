"""A long article without a web link, as a newsroom's JSON Lines export: for the reading tests."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

_SENTENCES = [
    "Hội nghị đã thảo luận sôi nổi về các giải pháp nâng cao chất lượng sinh hoạt chi bộ ở cơ sở.",
    "Nhiều ý kiến đề nghị tăng cường ứng dụng chuyển đổi số trong quản lý đảng viên và theo dõi nghị quyết.",
    "Đồng chí Bí thư Đảng ủy xã nhấn mạnh vai trò nêu gương của cán bộ, đảng viên “nói đi đôi với làm”!",
    "Bà con thôn Tân Lập phấn khởi khi con đường liên xã dài 4,2 km được bê tông hóa trước mùa mưa?",
    "Các chi bộ cam kết hoàn thành chỉ tiêu kết nạp đảng viên mới, chú trọng đoàn viên thanh niên ưu tú…",
    "Kinh phí là 12,5 tỷ đồng, trong đó nhân dân đóng góp hơn 1,3 tỷ đồng & hàng nghìn ngày công <tự nguyện>.",
]


def long_paragraphs(total: int, *, long_paragraph: int = 6000) -> list[str]:
    """Paragraphs of Vietnamese news prose adding up to about `total` characters; one of them is
    `long_paragraph` characters, longer than a whole Telegram message, so it must be cut inside."""
    sentences = itertools.cycle(_SENTENCES)
    paragraphs: list[str] = []
    size = 0
    while size < total:
        target = long_paragraph if len(paragraphs) == 3 else 300 + 97 * (len(paragraphs) % 7)
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < target:
            words.append(next(sentences))
        paragraphs.append(" ".join(words))
        size += len(paragraphs[-1]) + 2
    return paragraphs


def write_export(path: Path, article_id: str, title: str, paragraphs: list[str], *, published: str,
                 url: str | None = None) -> Path:
    """One JSON Lines record (`sapo` is the lead, `body` the rest, blank-line separated)."""
    record = {"id": article_id, "title": title, "sapo": paragraphs[0], "body": "\n\n".join(paragraphs[1:]),
              "published": published, "author": "Hà Minh & Khánh Linh"}
    if url:
        record["url"] = url
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
