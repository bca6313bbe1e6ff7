"""Local mode's mailbox, for the developer at the machine: the .eml files the sender wrote under the data
directory's mailbox/ (portal.mailer; only without SMTP_HOST, readable by the owner alone), newest first, and one
message's plain text with its links, so a verification link can be opened without a mail server:

    python -m portal.local_mailbox            # the newest messages
    python -m portal.local_mailbox NAME       # one message's text and links

No page shows them: an administrator sees delivery status, never a body or a link (issue 23, item 3)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from portal.mailer import mailbox_number

# The sender's names: "<number>-<kind>.eml", one numbering for every message (portal.mailer._new_mailbox_file).
# Anything else in the folder is not the portal's.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.eml$")
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")


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
    # Newest first: the mailbox's own number, in the order the messages were written.
    files.sort(key=lambda p: (mailbox_number(p.name) or 0, p.stat().st_mtime, p.name), reverse=True)
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


def _parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


def main(argv: list[str] | None = None) -> int:
    from portal.config import Settings

    parser = argparse.ArgumentParser(description="Read local mode's mailbox (no mail server set up).")
    parser.add_argument("name", nargs="?", help="a message's file name, as listed")
    args = parser.parse_args(argv)
    folder = Settings.load().data_dir / "mailbox"
    if args.name:
        text = read_text(folder, args.name)
        print(text)
        print("\n".join(["Links:", *links(text)]))
        return 0
    for message in list_messages(folder, limit=20):
        print(f"{message.written_at:%Y-%m-%d %H:%M} UTC  {message.name}  to {message.to}: {message.subject}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
