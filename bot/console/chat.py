"""`bantin chat`: the offline console. Typed lines go to the same core as Telegram messages;
replies print as text, buttons as numbered choices (type `#2` to press button 2)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.commands import parse_command
from bantin.bot.console.editor import EditorConsole
from bantin.bot.htmltext import html_to_text
from bantin.bot.render import Renderer
from bantin.bot.reply import Document, Reply
from bantin.bot.search.reading import saved_filename
from bantin.bot.settings import Settings


def to_console(reply_html: str) -> str:
    """Telegram HTML → plain text for a terminal: bold in *stars*, links as 'text (url)'."""
    return html_to_text(reply_html, bold="*", links=True)


class Console:
    """Numbers every button of the session so `#N` can press it, like a finger on a phone: the
    buttons of earlier messages keep working, as they do in Telegram."""

    def __init__(self, core: Core, language: str = "vi", out: TextIO | None = None, *,
                 files: Path | None = None, editor: EditorConsole | None = None) -> None:
        self.core = core
        self.language = language
        self.out = out if out is not None else sys.stdout
        self.files = files  # where attached files (a long article's .txt) are saved; None: not saved
        self.editor = editor  # `bantin chat --editor`: the editors' commands and buttons work too
        self.buttons: list[tuple[str, str]] = []  # (callback data, query of its message), #1 first
        self.labels: list[str] = []  # what each of them says

    def handle(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        if re.fullmatch(r"#\d+", line):
            self.press(int(line[1:]))
            return
        command = parse_command(line)
        replies = None
        if command is not None and self.editor is not None:
            replies = self.editor.command(command[0], command[2], self.language)
        for reply in replies if replies is not None else self.core.message(line, self.language):
            self.show(reply)

    def press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons):
            print(f"(không có nút #{number})", file=self.out)
            return
        data, query = self.buttons[number - 1]
        result = self.editor.press(data, self.language) if self.editor is not None else None
        if result is None:
            result = self.core.callback(data, self.language, message_query=query)
        if result.answer:
            print(f"[{result.answer}]", file=self.out)
        if result.edit:
            self.show(result.edit)
        for reply in result.send:
            self.show(reply)

    def show(self, reply: Reply) -> None:
        print(to_console(reply.html), file=self.out)
        if reply.document is not None:
            self.attach(reply.document)
        for row in reply.buttons:
            labels = []
            for button in row:
                if button.data:
                    self.buttons.append((button.data, reply.query or ""))
                    self.labels.append(button.text)
                    labels.append(f"#{len(self.buttons)} {button.text}")
            if labels:
                print("  ".join(f"[{label}]" for label in labels), file=self.out)
        print("", file=self.out)


    def attach(self, document: Document) -> None:
        """A terminal cannot show a file as Telegram does: say what it is, and save it to open."""
        path = None
        if self.files is not None:
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / saved_filename(document.filename, document.article_id)
            path.write_bytes(document.content)
        chars = len(document.content.decode("utf-8", "replace"))
        print(self.core.renderer.label(self.language, "console_file", document.filename, chars, path or ""),
              file=self.out)


def run_console(settings: Settings, *, language: str = "vi", stdin: TextIO | None = None,
                editor: bool = False) -> int:
    stdin = stdin if stdin is not None else sys.stdin  # read at call time (tests swap sys.stdin)
    with ArticleStore(settings.store_path) as store:
        core = Core(store, settings.index_root, Renderer(), per_page=settings.per_page, bot_username="bantin_bot",
                    digest_time=settings.digest_time, digest_size=settings.digest_size,
                    read_document_chars=settings.read_document_chars)
        desk = EditorConsole(settings, core) if editor else None
        console = Console(core, language, files=settings.data_dir / "files", editor=desk)
        interactive = stdin.isatty()
        console.show(core.command("start", "", language)[0])
        try:
            while True:
                if interactive:
                    print("> ", end="", flush=True)
                line = stdin.readline()
                if not line:
                    break
                console.handle(line)
        except KeyboardInterrupt:
            pass
        finally:
            if desk is not None:
                desk.close()
            core.close()
    return 0
