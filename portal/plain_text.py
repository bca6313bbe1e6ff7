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


#: The fields members type (or an admin types for everyone: modality names), by the keys and attributes pages read
#: them under. A page that puts one of them into Markdown (st.markdown, st.caption, st.title, a widget's label, ...)
#: passes it through `plain`; tests/test_plain_text.py reads every page and component and fails on one that does not.
MEMBER_TEXT_FIELDS = frozenset(
    {
        "bio",
        "city",
        "counterpart_display",
        "counterpart_email",
        "counterpart_name",
        "decline_reason",
        "detail",
        "display_name",
        "email",
        "evidence",
        "evidence_body",
        "license_number",
        "license_type",
        "member_name",
        "message",
        "name",
        "note",
        "organisation",
        "other_name",
        "pronouns",
        "reason",
        "role",
        "safety_justification",
        "username",
    }
)
#: Attributes that carry member text (a CurrentUser's display_name, ...); `.name` is left out: days and groups have it.
MEMBER_TEXT_ATTRIBUTES = frozenset({"display_name", "username", "email", "note", "pronouns"})
