"""What a password must be, as NIST SP 800-63B advises: long enough, any characters (spaces and
accents included), not one of the passwords people use most — and no composition rules.

The list of common passwords is zxcvbn's (30,000 from leaked password corpora, shipped inside the
package: nothing is fetched at run time)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

MIN_LENGTH = 8
MAX_LENGTH = 64  # NIST's floor for the maximum; bcrypt hashes at most 72 bytes (bcrypt 5 refuses more)
MAX_BYTES = 72

PASSWORD_RULES = (
    f"Use {MIN_LENGTH} to {MAX_LENGTH} characters — any characters, spaces and accents included; a few "
    "unrelated words make a good one. It cannot be one of the 30,000 passwords people use most. No other "
    "rules: no required digits or symbols."
)
PASSWORD_RULES_LIST = (
    f"- {MIN_LENGTH} to {MAX_LENGTH} characters; any characters, spaces and accents included\n"
    "- not one of the 30,000 passwords people use most (like *password1* or *qwerty123*)\n"
    "- a few unrelated words make a good one; a password manager makes a better one"
)


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str | None) -> list[str]:
    """Every problem with a new password, each a sentence, so one attempt names them all (too short and one of the
    common ones are both said, not the second only after the first is fixed); empty when it will do."""
    text = unicodedata.normalize("NFKC", password or "")
    if not text:
        return ["Enter a password."]
    problems = []
    if len(text) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters (this one has {len(text)}).")
    if len(text) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters (this one has {len(text)}).")
    if len((password or "").encode()) > MAX_BYTES:
        problems.append(
            f"This password takes more than {MAX_BYTES} bytes (accented and other non-Latin letters take two "
            "or more each): shorten it a little."
        )
    if text.lower() in _common() or text.strip().lower() in _common():
        problems.append("This is one of the passwords people use most, so it is tried first: choose another.")
    return problems


def password_problem(password: str | None) -> str | None:
    """What is wrong with a new password, every problem in one answer; None when it will do."""
    return " ".join(password_problems(password)) or None
