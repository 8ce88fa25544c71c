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
        "Viết bình luận",
        "Xem bình luận",
        "Các tin đã đưa",
        "Ý kiến của bạn",
        "Gửi email",
        "Bản in",
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
        "Thẻ:",
        "Từ khóa",
        "Chia sẻ:",
        "Các tin đã đưa ngày",
    )
)

#: Words that site labels are made of ("TIN CÙNG CHUYÊN MỤC", "Xem bình luận (3)", "Các tin khác »").
#: A short line made only of these words is chrome, so a new label needs no new exact string.
_VOCAB = """tin bài viết bình luận xem thêm liên quan cùng chuyên mục khác mới nhất đọc nhiều chia sẻ in gửi ý kiến
    bạn của các đã đưa nổi bật tiêu điểm video ảnh clip trở lại quay về trang chủ đầu lên top email facebook
    zalo twitter bản góp phản hồi đánh giá lượt thích chọn ngày tất cả tiếp theo trước sau"""
CHROME_VOCAB: frozenset[str] = frozenset(_VOCAB.split())

#: Header lines: site menus and breadcrumbs. A line made only of these (with `>`, `»`, `/`, `|`, `-`
#: between them) is header chrome, whatever its case.
MENU_ITEMS: tuple[str, ...] = tuple(
    sorted(
        (
            s.casefold()
            for s in (
                "Trang chủ", "Tin tức", "Tin tức - Sự kiện", "Tin tức sự kiện", "Sự kiện", "Thời sự", "Chính trị",
                "Xây dựng Đảng", "Kinh tế", "Xã hội", "Văn hóa", "Văn hoá", "Thể thao", "Pháp luật", "Giáo dục",
                "Y tế", "Quốc phòng - An ninh", "Quốc phòng", "An ninh", "Nông nghiệp", "Nông thôn mới",
                "Du lịch", "Tin địa phương", "Địa phương", "Tin trong tỉnh", "Tin trong nước", "Trong tỉnh",
                "Hoạt động", "Tin hoạt động", "Hoạt động của lãnh đạo", "Tuyên giáo", "Dân vận", "Kiểm tra",
                "Tổ chức", "Đảng bộ", "Chuyên đề", "Multimedia", "Đọc Báo in", "Báo in", "Banner", "Video",
                "Ảnh", "Podcast", "Emagazine", "E-magazine", "Infographic", "RSS", "Liên hệ", "Tìm kiếm",
                "English", "Đăng nhập", "Sơ đồ site", "Giới thiệu", "Văn bản", "Hỏi đáp", "Diễn đàn",
                "Tin ảnh", "Bạn đọc", "Media", "Truyền hình", "Phát thanh",
            )
        ),
        key=len,
        reverse=True,
    )
)
MENU_SEPARATORS = ">»/|-–›:•"
_MENU_WORDS = frozenset(word for item in MENU_ITEMS for word in item.split())
_SEPARATORS = str.maketrans(dict.fromkeys(MENU_SEPARATORS, " "))

#: Site banners: capitals that greet or name the portal.
BANNER_PHRASES: tuple[str, ...] = tuple(
    s.casefold()
    for s in ("CHÀO MỪNG", "TRANG THÔNG TIN ĐIỆN TỬ", "CỔNG THÔNG TIN ĐIỆN TỬ", "BÁO ĐIỆN TỬ", "TRANG TIN ĐIỆN TỬ",
              "CƠ QUAN CỦA ĐẢNG BỘ", "TIẾNG NÓI CỦA ĐẢNG BỘ", "WEBSITE")
)

#: Share and reading tools printed between the title and the body ("A A A", "Cỡ chữ", "Nghe đọc bài").
TOOL_LINES: frozenset[str] = frozenset(
    s.casefold()
    for s in ("Chia sẻ", "Facebook", "Zalo", "Twitter", "Email", "In", "In bài", "Lưu", "Lưu bài", "A A A",
              "A- A+", "A+ A-", "Cỡ chữ", "Cỡ chữ A A A", "Nghe đọc bài", "Nghe bài viết", "Font", "Tweet",
              "Thích", "Like", "Share", "Bản in", "Gửi email", "Gửi bài", "Theo dõi", "Tăng cỡ chữ",
              "Giảm cỡ chữ", "0 bình luận", "Bình luận (0)")
)

#: CMS artefacts glued in front of a title ("null Hội nghị…"); case-sensitive on purpose.
GLUED_TITLE_PREFIX = re.compile(r"^(?:null|undefined|NaN|None|\[object Object\])\s*(?=[^\W\d_])")

#: An image path or URL on a line of its own.
IMAGE_LINE = re.compile(r"^(?:\S*/)?\S+\.(?:jpe?g|png|gif|webp|bmp)(?:[?#]\S*)?$", re.IGNORECASE)

#: Photo captions: "Ảnh: …", "(Ảnh: …)", "Ảnh minh họa", and a line ending with "(Ảnh: …)" /
#: "(Ảnh minh họa)" / "- Ảnh: …". Only short lines (see `MAX_CAPTION_WORDS`) are taken for captions.
_ILLUSTRATION = r"(?:minh\s*h(?:ọa|oạ)|tư\s*liệu|tl|internet|chụp\s*màn\s*hình)"
CAPTION = re.compile(
    rf"^[(\[]?\s*ảnh\s*{_ILLUSTRATION}?\s*(?:[:：]|[)\]]?\.?$)"
    rf"|[(\[]\s*(?:ảnh|nguồn\s*ảnh|ảnh\s*{_ILLUSTRATION})\s*(?::[^()]*)?[)\]]\.?$"
    r"|\s[-–]\s*ảnh\s*:\s*[^()]{1,40}$",
    re.IGNORECASE,
)
MAX_CAPTION_WORDS = 45

#: Bylines. Labels before a name, roles after it, heads of institution names, source credits.
BYLINE_LABELS = re.compile(
    r"^(?:ctv|pv|btv|phóng\s*viên|cộng\s*tác\s*viên|nhóm\s*pv|tác\s*giả|tin\s*(?:,|và)\s*ảnh|bài\s*(?:,|và)\s*ảnh"
    r"|bài|tin|ảnh|thực\s*hiện|bài\s*viết)\s*:\s*",
    re.IGNORECASE,
)
ROLE_WORDS: tuple[str, ...] = tuple(
    s.casefold()
    for s in ("Uỷ viên", "Ủy viên", "UV", "Phó", "Chủ tịch", "Bí thư", "Trưởng", "Giám đốc", "Chánh", "Thường trực",
              "Cán bộ", "Chuyên viên", "Phóng viên", "PV", "CTV", "Cộng tác viên", "Học viên", "Giảng viên",
              "Giáo viên", "Hội viên", "Đảng viên", "Công chức", "Viên chức", "Thư ký", "Kế toán", "Đại biểu",
              "Trợ lý", "Nhân viên", "Đội trưởng", "Văn phòng", "Ban", "Sở", "Phòng", "Trung tâm",
              "Trường", "Huyện ủy", "Huyện uỷ", "Thành ủy", "Thành uỷ", "Tỉnh ủy", "Tỉnh uỷ", "Đảng ủy",
              "Đảng uỷ", "UBND", "UBKT", "HĐND", "MTTQ", "Hội", "Báo", "Đài", "Công an", "Bộ Chỉ huy", "Chi bộ")
)
INSTITUTION_HEADS: tuple[str, ...] = tuple(
    s.casefold()
    for s in ("Ban ", "Văn phòng ", "Sở ", "Phòng ", "Trung tâm ", "Ủy ban ", "Uỷ ban ", "UBND ", "Hội ",
              "Đảng ủy ", "Đảng uỷ ", "Huyện ủy ", "Huyện uỷ ", "Thành ủy ", "Thành uỷ ", "Tỉnh ủy ", "Tỉnh uỷ ",
              "Mặt trận ", "Ủy ban MTTQ ", "Đoàn ", "Công an ", "Bộ Chỉ huy ", "Trường ", "Báo ", "Đài ",
              "Cổng Thông tin ", "Chi cục ", "Cục ", "Liên đoàn ", "Tòa án ", "Viện kiểm sát ", "BCH ")
)
SOURCE_CREDIT = re.compile(
    r"^[(\[]?\s*(?i:theo|nguồn)\s*:?\s+(?P<credit>[^()\[\]]{1,60}?)\s*[)\]]?\.?$",
)


#: Labels, menus and breadcrumbs are short; longer lines skip the feature checks (parsing speed).
#: Every chrome line and prefix above is shorter than this.
MAX_LABEL_CHARS = 60
_COUNT_TAIL = " ()[]0123456789>»›.…"  # "Bình luận (3)", "Các tin khác »"


def is_chrome(line: str) -> bool:
    """True when a cleaned line is the start of the site chrome: a known label, or one made of label words."""
    if len(line) > MAX_LABEL_CHARS:  # a paragraph: only a prefix can make it chrome
        return line[:MAX_LABEL_CHARS].casefold().startswith(CHROME_PREFIXES)
    key = line.casefold()
    if key in CHROME_LINES or key.startswith(CHROME_PREFIXES):
        return True
    words = key.rstrip(_COUNT_TAIL).replace(",", " ").split()
    return 2 <= len(words) <= 8 and all(word in CHROME_VOCAB for word in words)


def is_header_chrome(line: str) -> bool:
    """Banner, menu or breadcrumb line above a title (or reading tools between title and body)."""
    if len(line) > 3 * MAX_LABEL_CHARS:
        return False
    key = line.casefold()
    if key in TOOL_LINES:
        return True
    if key.startswith(BANNER_PHRASES) or (line.isupper() and any(p in key for p in BANNER_PHRASES)):
        return True
    return _only_menu_items(key)


def _only_menu_items(key: str) -> bool:
    if len(key) > 2 * MAX_LABEL_CHARS or not all(w in _MENU_WORDS for w in key.translate(_SEPARATORS).split()):
        return False
    rest = key
    for item in MENU_ITEMS:
        if item in rest:
            rest = rest.replace(item, " ")
    return not rest.strip(MENU_SEPARATORS + " ")


def is_punctuation_only(line: str) -> bool:
    """`***`, `---`, `…`, `.` : no letter or digit at all."""
    return not any(ch.isalnum() for ch in line)
