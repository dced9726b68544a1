"""How Telegram turns what the bot sends into a message's text and entities.

``parse_html`` and ``parse_markdown`` (Markdown and MarkdownV2) read ``parse_mode`` markup into plain text plus
entities with UTF-16 offsets, refusing bad markup with Telegram's "can't parse entities" errors;
``detect_entities`` adds what Telegram finds on its own (bot commands, URLs, @mentions); ``render_text`` does
both for a sendMessage/editMessageText text and applies the empty/too-long checks.
"""
from __future__ import annotations

import html
import re
from typing import Any

from .models import ApiError


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += _u16(s)

    def entity(self, type_: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append({"type": type_, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[dict]]:
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def _bad_entities(msg: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {msg}")


_HTML_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
              "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
              "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
              "tg-emoji": "custom_emoji"}
_TAG_RE = re.compile(r"""<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*>""")
_ATTR_RE = re.compile(r"""([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_CHARREF_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot);")


def parse_html(src: str) -> tuple[str, list[dict]]:
    out, stack, i = _Text(), [], 0  # stack: (tag, entity type or None, start, extra)
    while i < len(src):
        c = src[i]
        if c == "<":
            off = len(src[:i].encode())
            m = _TAG_RE.match(src, i)
            if not m:
                name = re.match(r"</?([^\s>]*)", src[i:]).group(1)  # type: ignore[union-attr]
                raise _bad_entities(f'Unsupported start tag "{name}" at byte offset {off}')
            name = m.group(2).lower()
            if m.group(1):
                if not stack:
                    raise _bad_entities(f'Unexpected end tag at byte offset {off}')
                if stack[-1][0] != name:
                    raise _bad_entities(f'Unmatched end tag at byte offset {off}, expected "</{stack[-1][0]}>", '
                                        f'found "</{name}>"')
                _tag, type_, start, extra = stack.pop()
                if type_:
                    out.entity(type_, start, **extra)
            else:
                if name not in _HTML_TAGS:
                    raise _bad_entities(f'Unsupported start tag "{name}" at byte offset {off}')
                attrs = {a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                         for a in _ATTR_RE.finditer(m.group(3))}
                type_, extra = _HTML_TAGS[name], {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _bad_entities(f'Unsupported start tag "span" at byte offset {off}')
                if name == "a":
                    type_, extra = ("text_link", {"url": attrs["href"]}) if attrs.get("href") else (None, {})
                elif name == "blockquote" and "expandable" in attrs:
                    type_ = "expandable_blockquote"
                elif name == "tg-emoji":
                    extra = {"custom_emoji_id": attrs.get("emoji-id", "")}
                elif name == "code" and stack and stack[-1][0] == "pre":
                    if attrs.get("class", "").startswith("language-"):
                        stack[-1][3]["language"] = attrs["class"][len("language-"):]
                    type_ = None
                stack.append((name, type_, out.pos, extra))
            i = m.end()
        elif c == "&":
            m = _CHARREF_RE.match(src, i)
            if m:
                out.add(html.unescape(m.group(0)))
                i = m.end()
            else:
                out.add("&")
                i += 1
        else:
            j = min(k for k in (src.find("<", i), src.find("&", i), len(src)) if k >= 0)
            out.add(src[i:j])
            i = j
    if stack:
        raise _bad_entities(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!\\")
_MD2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _find_unescaped(src: str, needle: str, start: int) -> int:
    i = start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        if src.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_md2(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s, flags=re.S)


def parse_markdown(src: str, v2: bool) -> tuple[str, list[dict]]:
    out, open_ = _Text(), {}  # open_: marker -> (start, byte offset)
    links: list[tuple[int, int]] = []
    i, n = 0, len(src)
    while i < n:
        c, off = src[i], len(src[:i].encode())
        if c == "\\" and i + 1 < n and (v2 or src[i + 1] in "_*`["):
            out.add(src[i + 1])
            i += 2
        elif c == "`":
            fence = "```" if src.startswith("```", i) else "`"
            end = _find_unescaped(src, fence, i + len(fence)) if v2 else src.find(fence, i + len(fence))
            if end < 0:
                raise _bad_entities(f"Can't find end of {'Pre' if fence == '```' else 'Code'} entity at byte "
                                    f"offset {off}" if v2 else f"Can't find end of the entity starting at byte "
                                    f"offset {off}")
            body, extra = src[i + len(fence):end], {}
            if fence == "```" and "\n" in body and body.split("\n", 1)[0].strip():
                lang, body = body.split("\n", 1)
                extra["language"] = lang.strip()
            start = out.pos
            out.add(_unescape_md2(body) if v2 else body)
            out.entity("pre" if fence == "```" else "code", start, **extra)
            i = end + len(fence)
        elif c in "*_~|" and (v2 or c in "*_"):
            marker = src[i:i + 2] if src[i:i + 2] in ("__", "||") and v2 else c
            if marker == "|":
                raise _bad_entities("Character '|' is reserved and must be escaped with the preceding '\\'")
            if marker in open_:
                start, _ = open_.pop(marker)
                out.entity(_MD2_MARKERS[marker], start)
            else:
                open_[marker] = (out.pos, off)
            i += len(marker)
        elif c == "[":
            links.append((out.pos, off))
            i += 1
        elif c == "]" and links:
            if src[i + 1:i + 2] != "(":
                raise _bad_entities(f"Can't find end of a URL at byte offset {off}")
            end = _find_unescaped(src, ")", i + 2) if v2 else src.find(")", i + 2)
            if end < 0:
                raise _bad_entities(f"Can't find end of a URL at byte offset {off}")
            start, _ = links.pop()
            out.entity("text_link", start, url=_unescape_md2(src[i + 2:end]) if v2 else src[i + 2:end])
            i = end + 1
        elif v2 and c == ">" and (i == 0 or src[i - 1] == "\n"):
            nl = src.find("\n", i)
            nl = n if nl < 0 else nl
            start = out.pos
            inner, ents = parse_markdown(src[i + 1:nl], True)
            out.entities += [{**e, "offset": e["offset"] + start} for e in ents]
            out.add(inner)
            prev = out.entities[-1] if out.entities and out.entities[-1]["type"] == "blockquote" else None
            if prev and prev["offset"] + prev["length"] + 1 == start:  # continue the quote of the previous line
                prev["length"] = out.pos - prev["offset"]
            else:
                out.entity("blockquote", start)
            i = nl
        elif v2 and c in _MD2_RESERVED:
            raise _bad_entities(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        else:
            out.add(c)
            i += 1
    if open_ or links:
        marker, (_, off) = next(iter(open_.items())) if open_ else ("[", links[0])
        name = {"[": "TextUrl"}.get(marker) or _MD2_MARKERS[marker].capitalize()
        raise _bad_entities(f"Can't find end of {name} entity at byte offset {off}" if v2
                            else f"Can't find end of the entity starting at byte offset {off}")
    return out.result()


_AUTO_ENTITIES = [
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)]")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
]


def detect_entities(text: str, existing: list[dict]) -> list[dict]:
    """Add the entities Telegram detects on its own (commands, URLs, @mentions) where no code/link entity is."""
    found: list[dict] = []
    for type_, rx in _AUTO_ENTITIES:
        for m in rx.finditer(text):
            off, ln = _u16(text[:m.start()]), _u16(m.group(0))
            if any(e["offset"] < off + ln and off < e["offset"] + e["length"]
                   for e in existing + found if e["type"] in ("code", "pre", "text_link") or e in found):
                continue
            found.append({"type": type_, "offset": off, "length": ln})
    return sorted(existing + found, key=lambda e: (e["offset"], -e["length"]))


def render_text(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict]]:
    text = "" if text is None else str(text)
    mode = str(parse_mode or "").lower()
    if isinstance(entities, list):
        ents = entities
    elif mode == "html":
        text, ents = parse_html(text)
    elif mode in ("markdown", "markdownv2"):
        text, ents = parse_markdown(text, v2=mode == "markdownv2")
    else:
        ents = []
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return text, detect_entities(text, ents)
