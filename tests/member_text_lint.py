"""Finds member text put into Markdown without portal.plain_text.plain, in the pages' and components' source.

Streamlit renders Markdown in st.markdown, st.caption, st.title, st.info/success/warning/error, st.toast and in
widget labels, so a member's name typed as `![r](http://host/s.png)` became a tracking pixel. The rule: an f-string
that reads a member-typed field (portal.plain_text.MEMBER_TEXT_FIELDS, by key or .get; MEMBER_TEXT_ATTRIBUTES by
attribute), directly or through a variable assigned from one, reads it inside plain(...). A lookup in a constant
table (`REASONS[row["reason"]]`) is the table's text. A line whose text never reaches Markdown (a selectbox's
format_func, a dataframe cell) says so with the comment `# not markdown`; a field that holds the portal's own
sentence (an error's "message") with `# not member text`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from portal.plain_text import MEMBER_TEXT_ATTRIBUTES, MEMBER_TEXT_FIELDS

NOT_MARKDOWN = "# not markdown"
NOT_MEMBER_TEXT = "# not member text"
#: Streamlit calls that render their text (or label, or help) as Markdown.
RENDERERS = frozenset(
    {
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "write",
        "info",
        "success",
        "warning",
        "error",
        "toast",
        "expander",
        "button",
        "checkbox",
        "toggle",
        "radio",
        "page_link",
        "tabs",
        "popover",
        "metric",
        "form_submit_button",
        "download_button",
        "link_button",
        "selectbox",
        "multiselect",
        "text_input",
        "text_area",
        "number_input",
    }
)
MARKDOWN_KEYWORDS = frozenset({"body", "label", "help", "text"})


def _member_field(node: ast.AST) -> str | None:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if node.slice.value in MEMBER_TEXT_FIELDS else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        return node.args[0].value if node.args[0].value in MEMBER_TEXT_FIELDS else None
    if isinstance(node, ast.Attribute) and node.attr in MEMBER_TEXT_ATTRIBUTES:
        return node.attr
    return None


def _unescaped(expr: ast.AST, tainted: set[str]) -> list[str]:
    """The member fields (and tainted variables) `expr` reads outside plain(...) and constant tables."""
    found: list[str] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "plain":
            return
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id.isupper():
            return  # REASONS[row["reason"]]: the table's own words
        if isinstance(node, ast.IfExp):  # the condition's value is never in the text
            walk(node.body)
            walk(node.orelse)
            return
        if field := _member_field(node):
            found.append(field)
            return
        if isinstance(node, ast.Name) and node.id in tainted:
            found.append(node.id)
            return
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(expr)
    return found


def _exempt(lines: list[str]) -> bool:
    return any(NOT_MARKDOWN in line or NOT_MEMBER_TEXT in line for line in lines)


def unescaped_member_text(path: Path) -> list[str]:
    """'file:line: field' for every f-string in `path` that puts member text into a string unescaped."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    tainted: set[str] = set()
    for node in ast.walk(tree):  # variables assigned from member text, e.g. who = item.get("counterpart_display")
        if isinstance(node, ast.Assign) and not isinstance(node.value, ast.JoinedStr) and _unescaped(node.value, set()):
            tainted.update(t.id for t in node.targets if isinstance(t, ast.Name))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RENDERERS:
            given = [*node.args[:1], *(k.value for k in node.keywords if k.arg in MARKDOWN_KEYWORDS)]
            for value in given:  # text handed over as it is (an f-string is looked at below)
                if not isinstance(value, ast.JoinedStr) and not _exempt(lines[node.lineno - 1 : node.lineno]):
                    problems += [f"{path}:{value.lineno}: {field}" for field in _unescaped(value, tainted)]
        if not isinstance(node, ast.JoinedStr):
            continue
        span = lines[max(node.lineno - 2, 0) : (node.end_lineno or node.lineno)]  # the comment may be just above
        if _exempt(span):
            continue
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                problems += [f"{path}:{value.lineno}: {field}" for field in _unescaped(value.value, tainted)]
    return problems
