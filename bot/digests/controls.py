"""A subscriber's own digest controls: /subscribe, /unsubscribe, /settings (with its buttons), /digest.

Plain values in, rendered `Reply`s out, like the search replies: private chats, and a group's
administrators for their group (the Telegram edge checked who they are and passes `place`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bantin.bot.clock import VIETNAM
from bantin.bot.digests import build as dg
from bantin.bot.digests.slots import clock_time, next_slot, shift_clock
from bantin.bot.digests.store import Place
from bantin.bot.reply import Button, CallbackResult, Reply
from bantin.bot.search import buttons as cb
from bantin.bot.services import Services

DIGEST_PRESETS = ("06:00", "07:00", "12:00", "18:00", "21:00")


@dataclass
class DigestControls(Services):
    """The digest-settings room of a chat's replies (see `bot.chat.Core`)."""

    _topics: dg.TopicMatcher | None = field(default=None, init=False, repr=False)

    def digest_command(self, name: str, args: str, lang: str, chat: int, place: Place | None = None) -> list[Reply]:
        """/subscribe, /unsubscribe, /settings and /digest (a preview that changes nothing)."""
        if name == "subscribe":
            return [self.subscribe(chat, args, lang, place)]
        if name == "unsubscribe":
            stopped = self.subs.unsubscribe(chat, now=self.clock())
            return [self.notice("digest_unsubscribed", lang, stopped=stopped)]
        if name == "settings":
            return [self.digest_settings(chat, lang)]
        return self.digest_preview(chat, lang)

    def subscribe(self, chat: int, args: str, lang: str, place: Place | None = None) -> Reply:
        try:
            request = dg.parse_subscribe(args)
        except dg.BadSubscribe as exc:
            return self.notice("digest_bad", lang, reason=exc.reason, detail=exc.detail, max_topics=dg.MAX_TOPICS,
                               max_chars=dg.MAX_TOPIC_CHARS)
        now = self.clock()
        current = self.subs.get(chat)
        slot = request.slot or (current.slot if current and current.active else self.digest_time)
        subscriber, activated = self.subs.subscribe(chat, lang=lang, slot=slot, topics=request.topics, now=now,
                                                    place=place)
        return self.notice("digest_subscribed", lang, activated=activated, slot=subscriber.slot,
                           topics=subscriber.topics, next_at=next_slot(subscriber.slot, now),
                           group=subscriber.shared, thread_id=subscriber.thread_id)

    def digest_settings(self, chat: int, lang: str) -> Reply:
        """Current time and topics, with buttons to change them (stateless, see bot.search.buttons)."""
        label = self.renderer.label
        subscriber = self.subs.get(chat)
        now = self.clock()
        rows: list[tuple[Button, ...]] = []
        if subscriber and subscriber.active:
            slot = subscriber.slot
            rows.append(tuple(Button(label(lang, "digest_time_choice", t, slot), _digest_data("time", t))
                              for t in DIGEST_PRESETS))
            earlier, later = shift_clock(slot, -30), shift_clock(slot, 30)
            rows.append((Button(label(lang, "digest_earlier", earlier), _digest_data("time", earlier)),
                         Button(label(lang, "digest_later", later), _digest_data("time", later))))
            rows += [(Button(label(lang, "digest_drop_topic", topic),
                             _digest_data("drop", f"{n}:{dg.topic_tag(topic)}")),)
                     for n, topic in enumerate(subscriber.topics, 1)]
            if subscriber.topics:
                rows.append((Button(label(lang, "digest_clear_topics"), _digest_data("clear")),))
            rows.append((Button(label(lang, "digest_preview_button"), _digest_data("preview")),
                         Button(label(lang, "digest_stop"), _digest_data("stop"))))
            next_at = next_slot(slot, now)
        else:
            rows.append((Button(label(lang, "digest_start"), _digest_data("start")),
                         Button(label(lang, "digest_preview_button"), _digest_data("preview"))))
            next_at = None
        html = self.renderer.render(lang, "digest_settings", subscriber=subscriber, next_at=next_at,
                                    default_time=self.digest_time, max_topics=dg.MAX_TOPICS)
        return Reply(html, tuple(rows))

    def digest_preview(self, chat: int, lang: str) -> list[Reply]:
        """What the next digest would hold right now; records nothing, so nothing due changes.

        A subscriber sees the articles since their previous digest; anyone else the last 24 hours.
        """
        now = self.clock()
        subscriber = self.subs.get(chat)
        active = subscriber is not None and subscriber.active
        topics = subscriber.topics if subscriber is not None and active else ()
        since = subscriber.since if subscriber is not None and active else now - timedelta(days=1)
        window = dg.recent_window(self.store, now)
        digest = dg.build_digest(window, since=since, topics=topics, matcher=self._topic_matcher(window))
        next_at = next_slot(subscriber.slot, now) if subscriber is not None and active else None
        status = "active" if active else "none" if subscriber is None else "stopped"
        parts = dg.render_digest(self.renderer, lang, digest, size=self.digest_size, preview=True, next_at=next_at,
                                 status=status)
        if not parts:
            return [self.notice("digest_empty", lang, subscribed=active, topics=topics,
                                since=digest.since.astimezone(VIETNAM),
                                next_at=next_at, default_time=self.digest_time)]
        return list(parts)

    def _topic_matcher(self, window: dg.Window) -> dg.TopicMatcher:
        """One matcher per batch of new articles: previews reuse its small index and memo."""
        with self._lock:
            current = self._topics
            if current is None or current.window.until != window.until:
                if current is not None:
                    current.close()
                current = self._topics = dg.TopicMatcher(window)
            return current

    def digest_button(self, button: cb.DigestMoreButton | cb.DigestButton, lang: str, chat: int) -> CallbackResult:
        label = self.renderer.label
        if isinstance(button, cb.DigestMoreButton):
            return self._digest_more(button, lang, chat)
        if button.action == "show":
            return CallbackResult(send=(self.digest_settings(chat, lang),))
        if button.action == "preview":
            return CallbackResult(send=tuple(self.digest_preview(chat, lang)))
        now = self.clock()
        subscriber = self.subs.get(chat)
        if button.action == "start":
            slot = subscriber.slot if subscriber else self.digest_time
            self.subs.subscribe(chat, lang=lang, slot=slot, topics=None, now=now)
            return CallbackResult(answer=label(lang, "digest_started"), edit=self.digest_settings(chat, lang))
        if subscriber is None or not subscriber.active:
            return CallbackResult(answer=label(lang, "digest_not_subscribed"), alert=True,
                                  edit=self.digest_settings(chat, lang))
        if button.action == "stop":
            self.subs.unsubscribe(chat, now=now)
            answer = label(lang, "digest_stopped")
        elif button.action == "time":
            slot = f"{button.value[:2]}:{button.value[2:]}"
            clock_time(slot)  # validated by the decoder; raises on anything else
            self.subs.subscribe(chat, lang=lang, slot=slot, topics=None, now=now)
            answer = label(lang, "digest_time_changed", slot)
        elif button.action == "clear":
            self.subs.subscribe(chat, lang=lang, slot=subscriber.slot, topics=(), now=now)
            answer = label(lang, "digest_topics_cleared")
        else:  # drop one topic: its position and a tag of its text must both still match
            number, _, tag = button.value.partition(":")
            position = int(number) - 1
            if position >= len(subscriber.topics) or dg.topic_tag(subscriber.topics[position]) != tag:
                return CallbackResult(answer=label(lang, "stale_button"), alert=True,
                                      edit=self.digest_settings(chat, lang))
            topic = subscriber.topics[position]
            remaining = subscriber.topics[:position] + subscriber.topics[position + 1 :]
            self.subs.subscribe(chat, lang=lang, slot=subscriber.slot, topics=remaining, now=now)
            answer = label(lang, "digest_topic_dropped", topic)
        return CallbackResult(answer=answer, edit=self.digest_settings(chat, lang))

    def _digest_more(self, button: cb.DigestMoreButton, lang: str, chat: int) -> CallbackResult:
        """The next articles of a digest: the same window, rebuilt, from the button's offset."""
        subscriber = self.subs.get(chat)
        topics = subscriber.topics if subscriber is not None and subscriber.active else ()
        now = self.clock()
        since, until = dg.from_micros(button.since_us), dg.from_micros(button.until_us)
        window = dg.recent_window(self.store, now)
        digest = dg.build_digest(window, since=since, until=until, topics=topics,
                                 matcher=self._topic_matcher(window))
        parts = dg.render_digest(self.renderer, lang, digest, size=self.digest_size, offset=button.offset)
        if not parts:
            return CallbackResult(answer=self.renderer.label(lang, "digest_nothing_more"))
        return CallbackResult(send=tuple(parts))

    def close(self) -> None:
        if self._topics is not None:
            self._topics.close()
            self._topics = None
        super().close()


def _digest_data(action: str, value: str = "") -> str:
    return cb.encode(cb.DigestButton(action, value.replace(":", "") if action == "time" else value))
