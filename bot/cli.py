"""`bantin` command line: thin commands over library calls, known errors as a message and a hint."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bantin.articles.ingest import IngestReport
from bantin.articles.model import Article
from bantin.articles.rawpage import NotAPage, PageError, parse_page
from bantin.articles.store import ArticleStore
from bantin.bot.newsroom.reindex import scan_sources
from bantin.bot.ops import redact as redaction
from bantin.bot.ops.messages import Messages
from bantin.bot.ops.progress import Reporter
from bantin.bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bantin.index.snippets import Snippet

log = logging.getLogger("bantin")

Command = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


class UserError(Exception):
    """A known failure: printed as `lỗi: …` with a hint, exit code 2 (or `code`), never a traceback."""

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--lang", dest="main_lang", choices=["vi", "en"], help="language of the output")
    parser.add_argument("--quiet", "-q", dest="main_quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Every command speaks the operator's language; long ones can be silenced.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=["vi", "en"], help="language of the output (default BANTIN_LANG, vi)")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bar or progress lines")

    p = sub.add_parser("parse", parents=[common], help="parse one raw page and print the article")
    p.add_argument("file", type=Path, help="a page saved by the scraper")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("ingest", parents=[common],
                       help="store raw pages and JSON Lines exports; build or update the index")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: BANTIN_SOURCES)")
    p.add_argument("--prune", action="store_true", help="remove articles whose page or export left a scanned folder")
    p.add_argument("--no-index", action="store_true",
                   help="only store; the next ingest, reindex or run brings the index up to date")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", parents=[common], help="search the index")
    p.add_argument("query", nargs="+", help="keywords; \"phrases\", -exclusions, 2019 or 9/2019 filters")
    p.add_argument("--limit", type=_positive, default=5, help="results per page (default 5)")
    p.add_argument("--page", type=_positive, default=1, help="page number (default 1)")
    p.add_argument("--sort", choices=["relevance", "newest"], default="relevance")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("related", parents=[common], help="articles related to one article")
    p.add_argument("id", help="article id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_related)

    p = sub.add_parser("reindex", parents=[common], help="bring the search index up to date with the store")
    p.add_argument("--full", action="store_true", help="rebuild from scratch beside the live index, then swap")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("chat", help="offline console: type messages, read the bot's replies")
    p.add_argument("--lang", choices=["vi", "en"], help="reply language (default BANTIN_LANG, vi)")
    p.add_argument("--editor", action="store_true", help="the console user counts as an editor (/reindex, /stats…)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", parents=[common], help="run the Telegram bot (long polling, or a webhook)")
    p.add_argument("--webhook", metavar="URL", help="public HTTPS URL Telegram should post updates to")
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8443", help="where the webhook server listens")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("digest", parents=[common],
                       help="send the daily digests that are due (`run` does this every minute)")
    p.add_argument("--dry-run", action="store_true", help="print the digests; send and record nothing")
    p.add_argument("--now", action="store_true", help="every active subscriber now, as if their time had come")
    p.add_argument("--chat", type=int, metavar="ID", help="only this chat")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("start", parents=[common],
                       help="ingest BANTIN_SOURCES, then `run` with a token or `chat` without")
    p.set_defaults(func=cmd_start)
    add_operator_commands(sub, common)
    add_fetch_command(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.lang = getattr(args, "lang", None) or args.main_lang  # `bantin --lang en CMD` = `bantin CMD --lang en`
    args.quiet = getattr(args, "quiet", False) or args.main_quiet
    if args.command == "doctor":  # reports broken settings itself, as one of its findings
        from bantin.bot.ops.doctor import cmd_doctor

        return cmd_doctor(Messages(args.lang or _env_lang()), load_settings)
    redact: Callable[[str], str] = str
    settings = Settings()  # until the real ones load: a storage error still names a data dir
    try:
        settings = load_settings()
        logging.basicConfig(
            level=getattr(logging, settings.log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        # trafilatura logs every page it finds no text in as an ERROR; /failed already has it.
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        redact = redaction.install(settings)  # before anything can log or raise the token
        func: Command = args.func
        return func(args, settings)
    except SettingsError as exc:
        return _fail(str(exc), "sửa biến môi trường hoặc bantin.toml (xem README, mục Settings)")
    except UserError as exc:
        return _fail(redact(str(exc)), exc.hint and redact(exc.hint), code=exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `bantin search … | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0
    except (OSError, sqlite3.Error) as exc:
        # A read-only or full disk: every write is in a transaction or an atomic swap, so what
        # was stored before is intact; the operator needs the cause, not a traceback.
        log.debug("storage error", exc_info=True)
        message, hint = storage_error(exc, settings.data_dir)
        return _fail(redact(message), hint, code=1)


# -- commands ---------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    """Parse one page; exit 1 with the reason (in the CLI's language) when it is not an article."""
    say = messages(args, settings)
    try:
        data = args.file.read_bytes()
        article = parse_page(data, source=str(args.file.resolve()))
    except (OSError, PageError) as exc:
        if isinstance(exc, OSError):
            error = say.say("cannot_read", args.file, say.os_reason(exc))
        elif isinstance(exc, NotAPage):
            error = say.say("not_article", args.file, say.say("not_article_markdown"))
        else:
            error = say.say("page_error", args.file, exc)
        if args.json:
            print(json.dumps({"error": error, "source": str(args.file)}, ensure_ascii=False))
        else:
            print(error, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(parse_json(article), ensure_ascii=False, indent=2))
    else:
        print(describe_article(article, say))
    return 0


def parse_json(article: Article) -> dict[str, object]:
    """The `parse --json` contract plus `lead` (the first paragraph) for convenience."""
    return {**article.to_json(), "lead": article.lead}


def describe_article(article: Article, say: Messages | None = None) -> str:
    say = say or Messages()
    fields = [("label_title", article.title), ("label_published", article.to_json()["published"] or "—"),
              ("label_views", article.views if article.views is not None else "—"),
              ("label_author", article.author or "—"), ("label_paragraphs", len(article.paragraphs))]
    width = max(len(say.say(name)) for name, _ in fields) + 2
    lines = [f"{say.say(name) + ':':<{width}}{value}" for name, value in fields] + [""]
    lines += [f"[{n}] {text}\n" for n, text in enumerate(article.paragraphs, 1)]
    return "\n".join(lines)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Store articles, then build or update the index. Exit 1 when anything failed."""
    paths: list[Path] = list(args.paths) or list(settings.sources)
    say = messages(args, settings)
    report, update = run_ingest(settings, paths, prune=args.prune, say=say, quiet=args.quiet,
                                index=not args.no_index)
    if args.json:
        payload = report.to_json()
        payload["index"] = update
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(describe_report(report, update, say=say))
    return 0 if report.ok else 1


def run_ingest(
    settings: Settings, paths: list[Path], *, prune: bool, index: bool = True,
    say: Messages | None = None, quiet: bool = True,
) -> tuple[IngestReport, dict[str, object] | None]:
    """Ingest, then build or update the index unless `index` is False: the index follows the store.
    Progress goes to stderr unless `quiet`."""
    say = say or Messages(settings.lang)
    with ArticleStore(settings.store_path) as store:
        with reporter(say, "phase_read", "B", quiet) as bar:
            report = scan_sources(store, paths, prune=prune, read_progress=bar)
        update = update_search_index(settings, store, say=say, quiet=quiet) if index else None
    return report, update


def update_search_index(settings: Settings, store: ArticleStore, *, say: Messages, quiet: bool) -> dict[str, object]:
    """After storing articles (`ingest`, `start`, `fetch`): the index follows the store, so a
    missing or damaged one is built, an existing one updated."""
    from bantin.index.maintenance import update_index

    with reporter(say, "phase_index", say.say("unit_articles"), quiet) as bar:
        return _index_call(lambda: update_index(store, settings.index_root, progress=bar,
                                                     batch=settings.index_batch).to_json())


def describe_report(report: IngestReport, update: dict[str, object] | None, *, max_failures: int = 200,
                    say: Messages | None = None) -> str:
    say = say or Messages()
    lines = [say.say("ingest_summary", report.added, report.updated, report.unchanged, len(report.failed),
                     report.removed, report.skipped, report.files, report.seconds)]
    for where, reason in report.failed[:max_failures]:
        lines.append(say.say("ingest_failure", where, reason))
    if len(report.failed) > max_failures:
        lines.append(say.say("ingest_more_failures", len(report.failed) - max_failures))
    if update is not None:
        lines.append(say.say("index_summary", update.get("added", 0), update.get("deleted", 0)))
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search and print a page of results."""
    index = _open_index(settings)
    try:
        page = index.search(" ".join(args.query), page=args.page, per_page=args.limit, sort=args.sort)
    finally:
        index.close()
    if args.json:
        print(json.dumps(page.to_json(snippet_html), ensure_ascii=False, indent=2))
        return 0
    print(f"{page.total} kết quả cho «{page.query}» — trang {page.page}/{max(page.pages, 1)}")
    if page.suggestion:
        print(f"Có phải bạn muốn tìm: {page.suggestion}")
    for n, hit in enumerate(page.results, (page.page - 1) * args.limit + 1):
        print(f"{n}. [{hit.id}] {hit.title} ({hit.to_json()['published'] or 'không rõ ngày'})")
    return 0


def snippet_html(snippet: Snippet) -> str:
    """A snippet as the chat shows it (HTML, the query words in <b>): what `--json` has always given."""
    from bantin.bot.render import marked

    return str(marked(snippet))


def cmd_related(args: argparse.Namespace, settings: Settings) -> int:
    """Print articles related to one article; an id not in the store is an error (exit 1)."""
    say = messages(args, settings)
    index = _open_index(settings)
    try:
        known = _stored(settings, args.id)
        hits = index.related(args.id) if known else []
    finally:
        index.close()
    if not known:
        print(say.say("related_unknown", args.id), file=sys.stderr)
        print(say.say("related_unknown_hint"), file=sys.stderr)
        return 1
    if args.json:
        results = [h.to_json(snippet_html) for h in hits]
        print(json.dumps({"query": args.id, "total": len(results), "page": 1, "results": results,
                          "suggestion": None}, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(say.say("related_none", args.id))
    for n, hit in enumerate(hits, 1):
        print(f"{n}. [{hit.id}] {hit.title}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Incremental update (default) or full rebuild with an atomic swap."""
    from bantin.index.maintenance import rebuild_index, update_index

    if not settings.store_path.exists():
        raise UserError("chưa có kho bài viết", "chạy `bantin ingest` trước")
    say = messages(args, settings)
    with ArticleStore(settings.store_path) as store, \
            reporter(say, "phase_index", say.say("unit_articles"), args.quiet) as bar:
        action = rebuild_index if args.full else update_index
        update = _index_call(lambda: action(store, settings.index_root, progress=bar, batch=settings.index_batch))
    if args.json:
        print(json.dumps(update.to_json(), ensure_ascii=False, indent=2))
    else:
        print(say.say("reindex_summary", update.full, update.added, update.updated, update.deleted, update.docs,
                      update.seconds))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Offline console over the same core as the bot."""
    from bantin.bot.console.chat import run_console

    return run_console(settings, language=args.lang or settings.lang, editor=getattr(args, "editor", False))


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram bot until SIGINT/SIGTERM; refuse when another bot holds the data dir."""
    if not settings.token:
        raise UserError("chưa có BANTIN_TOKEN", "đặt BANTIN_TOKEN=<token từ @BotFather>, hoặc dùng `bantin chat`")
    with _bot_lock(settings):
        return _run_bot(args, settings)


def _run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bantin.bot.telegram.app import StartupError, run_bot

    try:
        return run_bot(settings, webhook=args.webhook, listen=args.listen)
    except StartupError as exc:
        raise UserError(str(exc), exc.hint, code=1) from None


@contextlib.contextmanager
def _bot_lock(settings: Settings) -> Iterator[None]:
    """The data dir's lock for the bot's lifetime: a second bot on it is refused, not run."""
    from bantin.bot.ops.datalock import DataDirBusy, hold_data_dir

    try:
        with hold_data_dir(settings.data_dir):
            yield
    except DataDirBusy as exc:
        raise UserError(f"một bot khác đang chạy trên thư mục dữ liệu {settings.data_dir} ({exc.holder})",
                        "dừng bot đó trước, hoặc đặt BANTIN_DATA_DIR khác cho bot này", code=1) from None


def add_operator_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`doctor` and `backup`: the operator's commands, beside the newsroom's."""
    p = sub.add_parser("doctor", parents=[common], help="check settings, data folder, stores, index, templates, token")
    p.set_defaults(func=None)
    p = sub.add_parser("backup", parents=[common], help="consistent copy of the stores while the bot runs")
    p.add_argument("folder", type=Path, metavar="DIR", help="where to write articles.sqlite and bot.sqlite")
    p.set_defaults(func=cmd_backup)


def add_fetch_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`fetch`: follow the newspaper's website (BANTIN_FEEDS) without the bot, e.g. from cron."""
    p = sub.add_parser("fetch", parents=[common],
                       help="fetch new articles from BANTIN_FEEDS (RSS/Atom, sitemaps) into the store and index")
    p.add_argument("--once", action="store_true", help="one poll, then exit (cron); default: every BANTIN_FEED_MINUTES")
    p.add_argument("--json", action="store_true", help="print each poll's summary as JSON")
    p.set_defaults(func=cmd_fetch)


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """Poll the feeds, store new articles, update (or create) the index; once, or every
    BANTIN_FEED_MINUTES until Ctrl-C. Exit 1 when something failed in the (last) poll."""
    import time

    from bantin.bot.newsroom.feeds import fetch_feeds

    if not settings.feeds:
        raise UserError("chưa có BANTIN_FEEDS",
                        "đặt BANTIN_FEEDS=<địa chỉ RSS/Atom hoặc sitemap của báo>, cách nhau bởi dấu phẩy")
    say = messages(args, settings)
    while True:
        with ArticleStore(settings.store_path) as store:
            with reporter(say, "phase_fetch", say.say("unit_feeds"), args.quiet) as bar:
                report = fetch_feeds(settings, store, progress=bar)
            update = update_search_index(settings, store, say=say, quiet=args.quiet)
        if args.json:
            print(json.dumps({**report.to_json(), "index": update}, ensure_ascii=False, indent=2), flush=True)
        else:
            print(describe_report(report, update, say=say), flush=True)
            print(say.say("fetch_summary", report.feeds, report.pages, report.not_modified, report.duplicates,
                          report.old, report.left), flush=True)
        if args.once or not settings.feed_minutes:
            return 0 if report.ok else 1
        time.sleep(settings.feed_minutes * 60)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Online backup of both stores; the index is rebuilt from the store, so it is not copied."""
    import sqlite3

    from bantin.bot.ops.backup import SameAsSource, backup

    say = messages(args, settings)
    try:
        copied, missing = backup(settings, args.folder)
    except SameAsSource:
        raise UserError(say.say("backup_into_data", args.folder, settings.data_dir),
                        say.say("backup_into_data_hint")) from None
    except (OSError, sqlite3.Error) as exc:
        reason = say.os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise UserError(say.say("backup_failed", args.folder, reason), say.say("backup_failed_hint")) from exc
    if not copied:
        raise UserError(say.say("backup_nothing", settings.data_dir), say.say("backup_nothing_hint"))
    for item in copied:
        print(say.say("backup_copied", item.name, item.path, item.size, item.rows))
    for name in missing:
        print(say.say("backup_missing", name))
    print(say.say("backup_index_note"))
    return 0


def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    """The README's out-of-the-box run: ingest the sources, then the bot or the console.

    With a token the lock is taken first: a second `start` is refused before it scans anything.
    """
    say = messages(args, settings)
    with _bot_lock(settings) if settings.token else contextlib.nullcontext():
        report, update = run_ingest(settings, list(settings.sources), prune=True, say=say,
                                    quiet=args.quiet)
        print(describe_report(report, update, max_failures=20, say=say), file=sys.stderr)
        if settings.token:
            return _run_bot(argparse.Namespace(webhook=None, listen=None), settings)
    print(say.say("start_console"), file=sys.stderr)
    return cmd_chat(argparse.Namespace(lang=say.lang), settings)


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Send (or with --dry-run print) due digests through the scheduler's delivery log.

    Same log, same lease as `bantin run`: a second run finds nothing due and sends nothing, and a
    run interrupted by Ctrl-C or SIGTERM leaves the rest pending for the next one.
    """
    import asyncio

    from bantin.bot.clock import utcnow
    from bantin.bot.digests.broadcast import Limits
    from bantin.bot.digests.runner import DigestRunner
    from bantin.bot.digests.store import CONSOLE_CHAT, SubscriptionStore
    from bantin.bot.render import Renderer
    from bantin.bot.telegram.send import digest_bot

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
        say = messages(args, settings)
        if args.dry_run:
            return _print_plan(runner, subs, utcnow(), force=args.now, chat=args.chat, as_json=args.json, say=say)
        assert settings.token
        with reporter(say, "phase_digest", say.say("unit_digests"), args.quiet) as bar:
            report = asyncio.run(_send_digests(runner, digest_bot(settings.token, settings.api_url),
                                               Limits(rate=settings.digest_rate, per_group=60 / settings.group_rate),
                                               force=args.now, chat=args.chat, progress=bar))
        holder = subs.lock_holder() if report.busy else None
    if report.busy:
        where = f" (pid {holder[1]} trên {holder[0]})" if holder else ""
        raise UserError("một tiến trình khác đang gửi bản tin" + where,
                        "đợi nó xong rồi chạy lại; không có gì bị gửi hai lần")
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(say.say("digest_summary", report))
    return 1 if report.failed else 0


async def _send_digests(runner, bot, limits, *, force: bool, chat: int | None, progress=None):  # type: ignore[no-untyped-def]
    """Run one broadcast; SIGINT/SIGTERM stop it after the message in flight."""
    import asyncio
    import signal

    from bantin.bot.telegram.send import telegram_deleter, telegram_editor, telegram_sender

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner.bot_username = bot.username  # links in group and channel digests
        return await runner.run(telegram_sender(bot), limits=limits, force=force, chat=chat,
                                should_stop=stop.is_set, lock_wait=30.0, edit=telegram_editor(bot),
                                delete=telegram_deleter(bot), progress=progress)


def _print_plan(runner, subs, now, *, force: bool, chat: int | None, as_json: bool,  # type: ignore[no-untyped-def]
                say: Messages) -> int:
    """`--dry-run`: what would be sent, as the console shows messages; nothing is recorded.
    The console's own subscription is shown too: the dry run is how an operator sees it."""
    from bantin.bot.console.chat import to_console
    from bantin.bot.digests.store import CONSOLE_CHAT

    plan = runner.plan(now, force=force, chat=chat, console=True)
    pending = subs.pending(now=now, chat_id=chat)
    if as_json:
        print(json.dumps({"digests": [{"chat_id": s.chat_id, "slot": p.slot_key, "articles": p.articles,
                                       "messages": [part.html for part in p.parts]} for s, p in plan.items],
                          "pending": len(pending)}, ensure_ascii=False, indent=2))
        return 0
    for subscriber, planned in plan.items:
        if not planned.parts:
            continue
        print(say.say("digest_heading", subscriber.chat_id, planned.slot_key, subscriber.slot,
                      ", ".join(subscriber.topics), planned.articles, subscriber.chat_id == CONSOLE_CHAT))
        for part in planned.parts:
            print(to_console(part.html))
            labels = [b.text for row in part.buttons for b in row]
            if labels:
                print("  ".join(f"[{label}]" for label in labels))
            print()
    sending = sum(1 for _, p in plan.items if p.parts)
    print(say.say("digest_plan", sending, len(plan.items) - sending, len(pending)))
    return 0


# -- helpers ----------------------------------------------------------------------------------


def version() -> str:
    """The installed distribution's version (what `pip` installed), for `--version` and bug reports."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("bantin")
    except PackageNotFoundError:
        return "0+unknown"


def _env_lang() -> str:
    """BANTIN_LANG read directly, for the one command that runs before the settings load."""
    import os

    lang = os.environ.get("BANTIN_LANG", "").strip().lower()
    return lang if lang in ("vi", "en") else "vi"


def messages(args: argparse.Namespace, settings: Settings) -> Messages:
    """The command's language: `--lang`, else BANTIN_LANG (Vietnamese by default)."""
    return Messages(getattr(args, "lang", None) or settings.lang)


def reporter(say: Messages, phase: str, unit: str, quiet: bool) -> Reporter:
    """A progress callback for one phase of long work (bar on a terminal, lines elsewhere)."""
    return Reporter(say.say(phase), say, unit=unit, quiet=quiet)


def _stored(settings: Settings, article_id: str) -> bool:
    with ArticleStore(settings.store_path, readonly=True) as store:
        return store.get(article_id) is not None


def _open_index(settings: Settings):  # type: ignore[no-untyped-def]
    from bantin.index.searcher import IndexDamaged, IndexMissing, SearchIndex

    try:
        return SearchIndex.open(settings.index_root)
    except IndexMissing as exc:
        raise UserError("chưa có chỉ mục tìm kiếm", "chạy `bantin ingest` (nó dựng chỉ mục)") from exc
    except IndexDamaged as exc:
        # The store is intact and is the source of truth: a rebuild from it is the whole fix.
        what = "do phiên bản cũ của bantin tạo" if exc.outdated else "bị hỏng"
        raise UserError(f"chỉ mục tìm kiếm {what} ({exc.reason})", "chạy bantin reindex --full", code=1) from exc


def _index_call(call: Callable[[], T]) -> T:
    from bantin.index.maintenance import IndexBusy

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


#: errno → what it means for the data dir, and what to do about it.
_FULL = ("đĩa đã đầy", "giải phóng chỗ trống trên đĩa rồi chạy lại")
_READ_ONLY = ("không được phép ghi (ổ chỉ đọc hoặc thiếu quyền)",
              "cho phép ghi vào thư mục đó, hoặc đặt BANTIN_DATA_DIR một thư mục ghi được")
_CHECK = "kiểm tra thư mục dữ liệu và ổ đĩa rồi chạy lại"
_ERRNO = {
    errno.ENOSPC: _FULL, errno.EDQUOT: _FULL, errno.EFBIG: ("tệp vượt giới hạn kích thước", _FULL[1]),
    errno.EROFS: _READ_ONLY, errno.EACCES: _READ_ONLY, errno.EPERM: _READ_ONLY,
    errno.ENOTDIR: ("đường dẫn không phải thư mục", "BANTIN_DATA_DIR phải là một thư mục (không phải tệp)"),
    errno.EEXIST: ("đường dẫn không phải thư mục", "BANTIN_DATA_DIR phải là một thư mục (không phải tệp)"),
}
_SQLITE = {
    "disk is full": _FULL,
    "readonly database": _READ_ONLY,
    "unable to open database file": ("không mở được tệp cơ sở dữ liệu", _READ_ONLY[1]),
    "disk i/o error": ("lỗi đọc/ghi đĩa (đĩa đầy hoặc hỏng?)", _CHECK),
}


def storage_error(exc: OSError | sqlite3.Error, data_dir: Path) -> tuple[str, str]:
    """`lỗi:` and `gợi ý:` for a storage failure; the data already stored is left as it was."""
    if isinstance(exc, OSError):
        reason, hint = _ERRNO.get(exc.errno or 0, (exc.strerror or type(exc).__name__, _CHECK))
        where = f" ({exc.filename})" if exc.filename else ""
        detail = f"{reason}{where}"
    else:
        text = str(exc)
        reason, hint = next((v for k, v in _SQLITE.items() if k in text.lower()), (text, _CHECK))
        detail = f"{reason} ({text})" if reason != text else text
    return (f"không ghi được dữ liệu vào {data_dir}: {detail}",
            f"{hint}; dữ liệu đã lưu trước đó không bị thay đổi")


def _fail(message: str, hint: str | None, *, code: int = 2) -> int:
    print(f"lỗi: {message}", file=sys.stderr)
    if hint:
        print(f"gợi ý: {hint}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
