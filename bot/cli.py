"""`bantin` command line: thin commands over library calls, known errors as a message and a hint."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from articles.ingest import IngestReport, ingest
from articles.model import Article
from articles.rawpage import PageError, parse_page
from articles.store import ArticleStore
from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("bantin")

Command = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


class UserError(Exception):
    """A known failure: printed as `lỗi: …` with a hint, exit code `code` (2 unless said), never a traceback."""

    def __init__(self, message: str, hint: str | None = None, *, code: int = 2) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bantin",
        description="Bản tin: search a local newspaper's archive from Telegram.",
        epilog="Settings come from BANTIN_* environment variables or bantin.toml (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("parse", help="parse one raw page and print the article")
    p.add_argument("file", type=Path, help="a page saved by the scraper")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("ingest", help="store raw pages and JSON Lines exports; build or update the index")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: BANTIN_SOURCES)")
    p.add_argument("--prune", action="store_true", help="remove articles whose page left a scanned folder")
    p.add_argument("--no-index", action="store_true",
                   help="only store; the next ingest, reindex or run brings the index up to date")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="search the index")
    p.add_argument("query", nargs="+", help="keywords; \"phrases\", -exclusions, 2019 or 9/2019 filters")
    p.add_argument("--limit", type=_positive, default=5, help="results per page (default 5)")
    p.add_argument("--page", type=_positive, default=1, help="page number (default 1)")
    p.add_argument("--sort", choices=["relevance", "newest"], default="relevance")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("related", help="articles related to one article")
    p.add_argument("id", help="article id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_related)

    p = sub.add_parser("reindex", help="bring the search index up to date with the store")
    p.add_argument("--full", action="store_true", help="rebuild from scratch beside the live index, then swap")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("chat", help="offline console: type messages, read the bot's replies")
    p.add_argument("--lang", default="vi", choices=["vi", "en"], help="reply language (default vi)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="run the Telegram bot (long polling, or a webhook)")
    p.add_argument("--webhook", metavar="URL", help="public HTTPS URL Telegram should post updates to")
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8443", help="where the webhook server listens")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("digest", help="send the daily digests that are due (`run` does this every minute)")
    p.add_argument("--dry-run", action="store_true", help="print the digests; send and record nothing")
    p.add_argument("--now", action="store_true", help="every active subscriber now, as if their time had come")
    p.add_argument("--chat", type=int, metavar="ID", help="only this chat")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("start", help="ingest BANTIN_SOURCES, then `run` with a token or `chat` without")
    p.set_defaults(func=cmd_start)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(
            level=getattr(logging, settings.log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        func: Command = args.func
        return func(args, settings)
    except SettingsError as exc:
        return _fail(str(exc), "sửa biến môi trường hoặc bantin.toml (xem README, mục Settings)")
    except UserError as exc:
        return _fail(str(exc), exc.hint, exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `bantin search … | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0


# -- commands ---------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    """Parse one page; exit 1 with the reason when it is not an article."""
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UserError(f"không đọc được {args.file}: {exc.strerror or exc}") from exc
    try:
        article = parse_page(data, source=str(args.file.resolve()))
    except PageError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "source": str(args.file)}, ensure_ascii=False))
        else:
            print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(parse_json(article), ensure_ascii=False, indent=2))
    else:
        print(describe_article(article))
    return 0


def parse_json(article: Article) -> dict[str, object]:
    """The `parse --json` contract plus `lead` (the first paragraph) for convenience."""
    return {**article.to_json(), "lead": article.lead}


def describe_article(article: Article) -> str:
    lines = [
        f"Tiêu đề:   {article.title}",
        f"Ngày đăng: {article.to_json()['published'] or '—'}",
        f"Lượt xem:  {article.views if article.views is not None else '—'}",
        f"Tác giả:   {article.author or '—'}",
        f"Đoạn văn:  {len(article.paragraphs)}",
        "",
    ]
    lines += [f"[{n}] {text}\n" for n, text in enumerate(article.paragraphs, 1)]
    return "\n".join(lines)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Store articles, then build or update the index. Exit 1 when anything failed."""
    paths: list[Path] = list(args.paths) or list(settings.sources)
    report, update = run_ingest(settings, paths, prune=args.prune, index=not args.no_index)
    if args.json:
        payload = report.to_json()
        payload["index"] = update
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(describe_report(report, update))
    return 0 if report.ok else 1


def run_ingest(
    settings: Settings, paths: list[Path], *, prune: bool, index: bool = True
) -> tuple[IngestReport, dict[str, object] | None]:
    """Ingest, then build or update the index (unless `index` is False): the index follows the store."""
    from index.maintenance import update_index

    with ArticleStore(settings.store_path) as store:
        report = ingest(store, paths, prune=prune)
        update = None
        if index:
            update = _index_call(lambda: update_index(store, settings.index_root).to_json())
    return report, update


def describe_report(report: IngestReport, update: dict[str, object] | None, *, max_failures: int = 200) -> str:
    lines = [
        f"thêm mới: {report.added}, cập nhật: {report.updated}, không đổi: {report.unchanged}, "
        f"lỗi: {len(report.failed)}"
        + (f", đã xoá: {report.removed}" if report.removed else "")
        + (f", bỏ qua (không phải trang): {report.skipped}" if report.skipped else "")
        + f"  ({report.files} tệp, {report.seconds:.1f} s)"
    ]
    for where, reason in report.failed[:max_failures]:
        lines.append(f"  lỗi  {where}: {reason}")
    if len(report.failed) > max_failures:
        lines.append(f"  … và {len(report.failed) - max_failures} lỗi khác (xem đủ với --json)")
    if update is not None:
        lines.append(f"chỉ mục: {update.get('added', 0)} bài ghi, {update.get('deleted', 0)} bài xoá")
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search and print a page of results."""
    index = _open_index(settings)
    try:
        page = index.search(" ".join(args.query), page=args.page, per_page=args.limit, sort=args.sort)
    finally:
        index.close()
    if args.json:
        print(json.dumps(page.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{page.total} kết quả cho «{page.query}» — trang {page.page}/{max(page.pages, 1)}")
    if page.suggestion:
        print(f"Có phải bạn muốn tìm: {page.suggestion}")
    for n, hit in enumerate(page.results, (page.page - 1) * args.limit + 1):
        print(f"{n}. [{hit.id}] {hit.title} ({hit.to_json()['published'] or 'không rõ ngày'})")
    return 0


def cmd_related(args: argparse.Namespace, settings: Settings) -> int:
    """Print articles related to one article."""
    index = _open_index(settings)
    try:
        hits = index.related(args.id)
    finally:
        index.close()
    if args.json:
        results = [h.to_json() for h in hits]
        print(json.dumps({"query": args.id, "total": len(results), "page": 1, "results": results,
                          "suggestion": None}, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(f"không có bài liên quan với {args.id}")
    for n, hit in enumerate(hits, 1):
        print(f"{n}. [{hit.id}] {hit.title}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Incremental update (default) or full rebuild with an atomic swap."""
    from index.maintenance import rebuild_index, update_index

    if not settings.store_path.exists():
        raise UserError("chưa có kho bài viết", "chạy `bantin ingest` trước")
    with ArticleStore(settings.store_path) as store:
        action = rebuild_index if args.full else update_index
        result = _index_call(lambda: action(store, settings.index_root).to_json())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(", ".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Offline console over the same core as the bot."""
    from bot.console import run_console

    return run_console(settings, language=args.lang)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram bot until SIGINT/SIGTERM."""
    from bot.app import run_bot

    if not settings.token:
        raise UserError("chưa có BANTIN_TOKEN", "đặt BANTIN_TOKEN=<token từ @BotFather>, hoặc dùng `bantin chat`")
    return run_bot(settings, webhook=args.webhook, listen=args.listen)


def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    """The README's out-of-the-box run: ingest the sources, then the bot or the console."""
    report, update = run_ingest(settings, list(settings.sources), prune=True)
    print(describe_report(report, update, max_failures=20), file=sys.stderr)
    if settings.token:
        return cmd_run(argparse.Namespace(webhook=None, listen=None), settings)
    print("Chưa có BANTIN_TOKEN: mở bảng trò chuyện ngoại tuyến (Ctrl-D để thoát).", file=sys.stderr)
    return cmd_chat(argparse.Namespace(lang="vi"), settings)


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Send (or with --dry-run print) due digests through the scheduler's delivery log.

    Same log, same lease as `bantin run`: a second run finds nothing due and sends nothing, and a
    run interrupted by Ctrl-C or SIGTERM leaves the rest pending for the next one.
    """
    import asyncio

    from bot.broadcast import DigestRunner, Limits, digest_bot
    from bot.render import Renderer
    from bot.subscriptions import CONSOLE_CHAT, SubscriptionStore, utcnow

    if not settings.store_path.exists():
        raise UserError("chưa có kho bài viết", "chạy `bantin ingest` trước")
    if args.chat == CONSOLE_CHAT and not args.dry_run:
        raise UserError(f"chat {CONSOLE_CHAT} là bảng trò chuyện ngoại tuyến, không gửi qua Telegram được",
                        f"xem bản tin của nó với `bantin digest --dry-run --now --chat {CONSOLE_CHAT}`")
    if not args.dry_run and not settings.token:
        raise UserError("chưa có BANTIN_TOKEN", "đặt BANTIN_TOKEN, hoặc xem trước với `bantin digest --dry-run`")
    with ArticleStore(settings.store_path) as store, SubscriptionStore(settings.state_path) as subs:
        if args.chat is not None and subs.get(args.chat) is None:
            raise UserError(f"chat {args.chat} chưa đăng ký bản tin",
                            "người dùng đăng ký bằng /subscribe trong Telegram")
        runner = DigestRunner(store, subs, Renderer(), size=settings.digest_size)
        if args.dry_run:
            return _print_plan(runner, subs, utcnow(), force=args.now, chat=args.chat, as_json=args.json)
        assert settings.token
        report = asyncio.run(_send_digests(runner, digest_bot(settings.token, settings.api_url),
                                           Limits(rate=settings.digest_rate, per_group=60 / settings.group_rate),
                                           force=args.now, chat=args.chat))
        holder = subs.lock_holder() if report.busy else None
    if report.busy:
        where = f" (pid {holder[1]} trên {holder[0]})" if holder else ""
        raise UserError("một tiến trình khác đang gửi bản tin" + where,
                        "đợi nó xong rồi chạy lại; không có gì bị gửi hai lần")
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(f"bản tin: {report.delivered} đã gửi ({report.messages} tin nhắn), {report.empty} không có gì mới, "
              f"{report.blocked} bị chặn (đã huỷ đăng ký), {report.failed} lỗi, {report.retry_later} để lần sau"
              + (f", {report.resumed} tiếp tục từ lần trước" if report.resumed else "")
              + (f", {report.revised} bài đăng ở kênh/nhóm được cập nhật ({report.edited} tin sửa)"
                 if report.revised else "")
              + (f", {report.unchanged} kênh/nhóm không có gì mới để sửa" if report.unchanged else "")
              + (f", {report.notices} biên tập viên được báo bot bị gỡ khỏi kênh/nhóm" if report.notices else "")
              + (f", {report.interrupted} dừng giữa chừng (sẽ gửi lần sau)" if report.interrupted else "")
              + f"  ({report.seconds:.1f} s)")
    return 1 if report.failed else 0


async def _send_digests(runner, bot, limits, *, force: bool, chat: int | None):  # type: ignore[no-untyped-def]
    """Run one broadcast; SIGINT/SIGTERM stop it after the message in flight."""
    import asyncio
    import signal

    from bot.broadcast import telegram_deleter, telegram_editor, telegram_sender

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner.bot_username = bot.username  # links in group and channel digests
        return await runner.run(telegram_sender(bot), limits=limits, force=force, chat=chat,
                                should_stop=stop.is_set, lock_wait=30.0, edit=telegram_editor(bot),
                                delete=telegram_deleter(bot))


def _print_plan(runner, subs, now, *, force: bool, chat: int | None, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    """`--dry-run`: what would be sent, as the console shows messages; nothing is recorded."""
    from bot.console import to_console

    plan = runner.plan(now, force=force, chat=chat)
    pending = subs.pending(now=now, chat_id=chat)
    if as_json:
        print(json.dumps({"digests": [{"chat_id": s.chat_id, "slot": p.slot_key, "articles": p.articles,
                                       "messages": [part.html for part in p.parts]} for s, p in plan.items],
                          "pending": len(pending)}, ensure_ascii=False, indent=2))
        return 0
    for subscriber, planned in plan.items:
        if not planned.parts:
            continue
        topics = ", ".join(subscriber.topics) or "mọi tin"
        print(f"── chat {subscriber.chat_id} · {planned.slot_key} · {subscriber.slot} · {topics} · "
              f"{planned.articles} bài")
        for part in planned.parts:
            print(to_console(part.html))
            labels = [text for row in part.buttons for text, _ in row]
            if labels:
                print("  ".join(f"[{label}]" for label in labels))
            print()
    sending = sum(1 for _, p in plan.items if p.parts)
    print(f"(thử) {sending} bản tin sẽ gửi, {len(plan.items) - sending} không có gì mới, "
          f"{len(pending)} đang chờ gửi tiếp")
    return 0


# -- helpers ----------------------------------------------------------------------------------


def _open_index(settings: Settings):  # type: ignore[no-untyped-def]
    from index.searcher import IndexDamaged, IndexMissing, SearchIndex

    try:
        return SearchIndex.open(settings.index_root)
    except IndexMissing as exc:
        raise UserError("chưa có chỉ mục tìm kiếm", "chạy `bantin ingest` (nó dựng chỉ mục)") from exc
    except IndexDamaged as exc:
        # The store is intact and is the source of truth: a rebuild from it is the whole fix.
        raise UserError(f"chỉ mục tìm kiếm bị hỏng ({exc.reason})", "chạy bantin reindex --full", code=1) from exc


def _index_call(call: Callable[[], T]) -> T:
    from index.maintenance import IndexBusy

    try:
        return call()
    except IndexBusy as exc:
        raise UserError(str(exc), "một tiến trình khác đang ghi chỉ mục; thử lại sau ít phút") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cần một số nguyên dương, nhận được {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"cần một số nguyên dương, nhận được {text!r}")
    return value


def _fail(message: str, hint: str | None, code: int = 2) -> int:
    print(f"lỗi: {message}", file=sys.stderr)
    if hint:
        print(f"gợi ý: {hint}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
