"""Local mode's mailbox, read for the admin's Outbox tab: the .eml files the sender wrote under the data
directory's mailbox/ (portal.mailer), newest first, and one message's plain text with its links found, so a
new user of the demo can open a verification link without a mail server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

# The sender's names: "<outbox id, 8 digits>-<kind>.eml". Anything else in the folder is not the portal's.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.eml$")
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


@dataclass(frozen=True)
class MailboxMessage:
    name: str  # the file's name, which is how a message is chosen
    to: str
    subject: str
    written_at: datetime  # when the sender wrote it (UTC)


def list_messages(folder: Path, *, limit: int = 200) -> list[MailboxMessage]:
    """The newest `limit` messages in `folder` (none if it does not exist yet)."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if _NAME.match(p.name) and p.is_file()]
    # Newest first: the time written, then the outbox id in the name (several in one second).
    files.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    found = []
    for path in files[:limit]:
        message = _parse(path)
        found.append(
            MailboxMessage(
                name=path.name,
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                written_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            )
        )
    return found


def read_text(folder: Path, name: str) -> str:
    """The plain-text body of the message `name` in `folder`. Only a listed message's own name is accepted:
    no path, nothing outside the folder."""
    if not _NAME.match(name):
        raise FileNotFoundError(name)
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        raise FileNotFoundError(name)
    message = _parse(path)
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def links(text: str) -> list[str]:
    """The web addresses in a message's text, in order, each once."""
    return list(dict.fromkeys(m.group(0).rstrip(".,;:") for m in _LINK.finditer(text)))


def as_markdown(text: str) -> str:
    """The plain text for st.markdown: everything shown as written (Markdown characters escaped), line breaks
    kept, and each web address a link."""
    lines = []
    for line in text.splitlines():
        parts, last = [], 0
        for match in _LINK.finditer(line):
            url = match.group(0).rstrip(".,;:")
            parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", line[last : match.start()]))
            shown = _MARKDOWN_SPECIAL.sub(r"\\\1", url)
            parts.append(f"[{shown}]({url.replace(')', '%29')})")
            last = match.start() + len(url)
        parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", line[last:]))
        lines.append("".join(parts))
    return "  \n".join(lines)


def _parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)  # type: ignore[return-value]
