"""Data tables: what the scraper glues onto pages and what site chrome looks like.

Kept as data, in one place, so the newsroom can report a new variant and the fix is one line here.
"""

from __future__ import annotations

import re

#: .NET WebException / HttpRequestException / SocketException messages the scraper writes in front of
#: a page when a retry finally succeeded. Each pattern matches one whole message at the start of a line.
SCRAPER_ERRORS: tuple[str, ...] = (
    r"(?:System\.Net\.(?:Http\.)?\w*Exception:\s*)",  # a bare exception type prefix
    r"The request was aborted:[^.]*\.?",
    r"The operation has timed out\.?",
    r"The remote server returned an error:\s*(?:\(\d{3}\))?[^.]*\.?",
    r"The remote name could not be resolved:\s*'[^']*'\.?",
    r"Unable to connect to the remote server\.?",
    r"The underlying connection was closed:[^.]*\.?",
    r"The connection was closed unexpectedly\.?",
    r"An error occurred while sending the request\.?",
    r"An existing connection was forcibly closed by the remote host\.?",
    r"No connection could be made because the target machine actively refused it[^.]*\.?",
    r"A connection attempt failed because[^.]*\.?",
    r"The SSL connection could not be established[^.]*\.?",
    r"Could not (?:create|establish)[^.]*SSL/TLS[^.]*\.?",
    r"Response status code does not indicate success:\s*\d{3}(?:\s*\([^)]*\))?\.?",
    r"The server committed a protocol violation\.[^.]*\.?",
    r"The request timed out\.?",
    r"A task was canceled\.?",
    r"The operation was canceled\.?",
)

SCRAPER_ERROR_RE = re.compile(r"^\s*(?:" + "|".join(SCRAPER_ERRORS) + r")\s*", re.IGNORECASE)

#: A line that is exactly one of these (case-insensitive, after whitespace clean-up) starts the
#: site chrome: it and everything after it is dropped.
CHROME_LINES: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "(Bấm vào đây để nhận mã)",
        "Bấm vào đây để nhận mã",
        "Tin liên quan",
        "Tin cùng chuyên mục",
        "Tin mới nhất",
        "Tin khác",
        "Tin đọc nhiều",
        "Bài viết liên quan",
        "Các tin khác",
        "Xem thêm",
        "Ảnh Xem tất cả >>",
        "Ảnh",
        "Video",
        "Tỷ giá - Thời tiết",
        "Tỉ giá - Thời tiết",
        "Chọn thành phố",
        "Liên kết website",
        "LÊN ĐẦU TRANG",
        "Bình luận",
        "Gửi bình luận",
        "Ý kiến bạn đọc",
        "Chia sẻ",
        "In bài viết",
        "Quay lại",
        "Về trang chủ",
    )
)

#: Chrome lines that only need to start with these words (trailing counters, arrows, dates).
CHROME_PREFIXES: tuple[str, ...] = tuple(
    s.casefold()
    for s in (
        "Xem tất cả",
        "Ảnh Xem tất cả",
        "LÊN ĐẦU TRANG",
        "Tỷ giá - Thời tiết",
        "Bình luận (",
        "Chia sẻ bài viết",
        "Từ khóa:",
        "Từ khoá:",
        "Tags:",
    )
)


def is_chrome(line: str) -> bool:
    """True when a cleaned line is the start of the site chrome."""
    key = line.casefold()
    return key in CHROME_LINES or key.startswith(CHROME_PREFIXES)
