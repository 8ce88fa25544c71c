"""`bantin doctor`: what an operator checks before (or after) starting the bot, one line each.

Every problem is one line naming it and the fix, so a newsroom's operator can act without reading
code; exit status 1 when there is any, so a deployment script can stop on it. Read-only: it opens
the stores with `mode=ro`, never creates the data folder, never touches the index.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bantin.bot.ops.messages import Messages
from bantin.bot.render import LANGUAGES, TEMPLATES, Renderer
from bantin.bot.settings import Settings, SettingsError

#: Below this much free space a full reindex (built beside the live index) may not fit.
MIN_FREE_BYTES = 500 * 2**20
API_TIMEOUT = 10.0


@dataclass(frozen=True)
class Finding:
    """One check's outcome: `fix` is None when all is well."""

    text: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.fix is None


def diagnose(load: Callable[[], Settings], say: Messages, *, templates: Path = TEMPLATES,
             api_timeout: float = API_TIMEOUT) -> list[Finding]:
    """Run every check in order; a broken setting stops there (the others need the settings)."""
    try:
        settings = load()
    except SettingsError as exc:
        return [Finding(say.say("dr_settings_bad", str(exc)), say.say("dr_settings_fix"))]
    findings = [Finding(say.say("dr_settings_ok"))]
    findings.append(check_data_dir(settings.data_dir, say))
    store = check_store(settings.store_path, say)
    findings.append(store)
    if settings.state_path.exists():
        findings.append(check_state(settings.state_path, say))
    if store.ok:
        findings.append(check_index(settings, say))
    findings.append(check_templates(templates, say))
    findings.append(check_token(settings, say, timeout=api_timeout))
    return findings


def check_data_dir(path: Path, say: Messages) -> Finding:
    if not path.is_dir():
        return Finding(say.say("dr_data_missing", path), say.say("dr_data_missing_fix"))
    if not os.access(path, os.W_OK | os.X_OK):
        return Finding(say.say("dr_data_readonly", path), say.say("dr_data_readonly_fix", path))
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        return Finding(say.say("dr_data_full", path, free), say.say("dr_data_full_fix"))
    return Finding(say.say("dr_data_ok", path, free))


def _quick_check(path: Path, count_sql: str) -> int:
    """`PRAGMA quick_check` on a read-only connection, then a row count; raises sqlite3.Error."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        result = db.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise sqlite3.DatabaseError(str(result))
        return int(db.execute(count_sql).fetchone()[0])
    finally:
        db.close()


def check_store(path: Path, say: Messages) -> Finding:
    if not path.exists():
        return Finding(say.say("dr_store_missing"), say.say("dr_store_missing_fix"))
    return _check_db(path, "SELECT count(*) FROM articles", "dr_store_ok", say)


def check_state(path: Path, say: Messages) -> Finding:
    return _check_db(path, "SELECT count(*) FROM digest_subscribers WHERE active=1", "dr_state_ok", say)


def _check_db(path: Path, count_sql: str, ok: str, say: Messages) -> Finding:
    try:
        count = _quick_check(path, count_sql)
    except sqlite3.Error as exc:
        return Finding(say.say("dr_store_bad", path.name, exc), say.say("dr_store_bad_fix", path.name))
    return Finding(say.say(ok, count))


def check_index(settings: Settings, say: Messages) -> Finding:
    from bantin.index.searcher import IndexDamaged, IndexMissing, SearchIndex

    try:
        index = SearchIndex.open(settings.index_root)
    except IndexMissing:
        return Finding(say.say("dr_index_missing"), say.say("dr_index_fix"))
    except IndexDamaged as exc:
        return Finding(say.say("dr_index_bad", exc.reason), say.say("dr_index_full_fix"))
    except Exception as exc:  # a damaged index raises whatever Whoosh meets first
        return Finding(say.say("dr_index_bad", exc), say.say("dr_index_full_fix"))
    try:
        docs = index.doc_count()
    finally:
        index.close()
    count = _quick_check(settings.store_path, "SELECT count(*) FROM articles")
    if docs != count:
        return Finding(say.say("dr_index_count", docs, count), say.say("dr_index_fix"))
    return Finding(say.say("dr_index_ok", docs))


def check_templates(root: Path, say: Messages) -> Finding:
    """Every template compiles, in both languages, and each language has the same set."""
    try:
        env = Renderer(root).env
    except Exception as exc:
        return Finding(say.say("dr_templates_bad", root, exc), say.say("dr_templates_fix"))
    names = {lang: {p.name for p in (root / lang).glob("*") if p.is_file()} for lang in LANGUAGES}
    every = set().union(*names.values())
    for lang in LANGUAGES:
        for name in sorted(every - names[lang]):
            return Finding(say.say("dr_templates_bad", f"{lang}/{name}", "—"), say.say("dr_templates_fix"))
    count = 0
    for lang in LANGUAGES:
        for name in sorted(names[lang]):
            try:
                env.get_template(f"{lang}/{name}")
            except Exception as exc:
                return Finding(say.say("dr_templates_bad", f"{lang}/{name}", exc), say.say("dr_templates_fix"))
            count += 1
    return Finding(say.say("dr_templates_ok", count))


def check_token(settings: Settings, say: Messages, *, timeout: float) -> Finding:
    """`getMe` on BANTIN_API_URL: the one call that proves both the token and the route to Telegram."""
    if not settings.token:
        return Finding(say.say("dr_token_none"))
    url = f"{settings.api_url}/bot{settings.token}/getMe"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # http(s) only: checked in settings
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        description = _description(exc) or f"HTTP {exc.code}"
        if exc.code in (401, 404):
            return Finding(say.say("dr_token_bad", settings.api_url, description), say.say("dr_token_bad_fix"))
        return Finding(say.say("dr_api_down", settings.api_url, description), say.say("dr_api_down_fix"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding(say.say("dr_api_down", settings.api_url, _redact(str(reason), settings.token)),
                       say.say("dr_api_down_fix"))
    username = (body.get("result") or {}).get("username", "?")
    return Finding(say.say("dr_token_ok", username, settings.api_url))


def _description(exc: urllib.error.HTTPError) -> str | None:
    try:
        return str(json.loads(exc.read()).get("description") or "") or None
    except (ValueError, OSError, AttributeError):
        return None


def _redact(text: str, token: str) -> str:
    """Never print the token, even inside an error message that quotes the URL."""
    return text.replace(token, "<BANTIN_TOKEN>")


def cmd_doctor(say: Messages, load: Callable[[], Settings]) -> int:
    findings = diagnose(load, say)
    for finding in findings:
        if finding.ok:
            print(say.say("doctor_ok", finding.text))
        else:
            print(say.say("doctor_problem", finding.text, finding.fix))
    problems = sum(1 for f in findings if not f.ok)
    print(say.say("doctor_summary", problems))
    return 1 if problems else 0
