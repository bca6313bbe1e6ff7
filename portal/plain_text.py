"""Other members' words, shown as they typed them: never as Markdown.

Streamlit renders Markdown, so a request message holding `![x](https://tracker/p.png)` made the
reader's browser fetch that image (a tracking pixel saying when and from where it was read), and a
link could dress itself as anything. Every ASCII punctuation character may be backslash-escaped in
CommonMark and then stands for itself, so escaping all of them leaves no image, link, emphasis,
HTML, Streamlit directive (`:red[...]`, `:material/...:`) or maths. Bare addresses need more:
GFM finds `https://…`, `www.…` and `name@host` in the text after escapes are resolved (seen in
Chromium), so an invisible WORD JOINER goes inside `://`, after `www` and before `@`.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_WORD_JOINER = "\u2060"  # invisible, and no line break at it
_WWW = re.compile(r"(?i)(www)(?=\\\.)")


def plain(text: str | None) -> str:
    """`text` escaped so that Markdown shows exactly these characters (line breaks kept)."""
    if not text:
        return ""
    escaped = _PUNCTUATION.sub(r"\\\1", text)
    escaped = escaped.replace("\\:\\/\\/", "\\:" + _WORD_JOINER + "\\/\\/").replace("\\@", _WORD_JOINER + "\\@")
    escaped = _WWW.sub(r"\1" + _WORD_JOINER, escaped)
    return escaped.replace("\n", "  \n")
