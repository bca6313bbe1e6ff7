"""Credentials for streamlit-authenticator, fetched one user at a time.

streamlit-authenticator expects `credentials['usernames']` to be a dict of
every user. The portal never loads every user: `DatabaseUsers` is a mapping
that fetches the one user being tried (the typed username, or the one named
in the signed cookie) through a service-role function and remembers it for
the run. What the authenticator changes is written back field by field:
a new user (registration), a new password hash, a failed attempt (counted
atomically in the database, so lockout holds across sessions), a reset of
the count on success (which opens a server-side session: portal.sign_in_sessions).

While the sign-in form runs (`DatabaseUsers.answering_every_name`), every
typed name has a record: an account's, or one for a name without an account
whose hash is DUMMY_PASSWORD_HASH and whose failures are counted and locked
in the database exactly as an account's are. The form then checks a password
with bcrypt, counts a failure and locks after five in the same way for every
name, and its answers cannot tell a real username from a made-up one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bcrypt

from portal.db import SERVICE, APIError, Backend, Claims, Refusal

MAX_FAILED_ATTEMPTS = 5
LOCKOUT_MINUTES = 15

# What the sign-in form checks a password against when the typed name has no account: a bcrypt hash, of the cost
# streamlit-authenticator gives every real hash (bcrypt.gensalt()'s default, 12), of a random string nobody kept.
# No password matches it, and were one to, a name without an account never signs in (auth_record_successful_login).
DUMMY_PASSWORD_HASH = "$2b$12$CByiXfqzKoeh8dVCZGsoIeXDDi0qzPpTdf0Iiy5EyQapot0lIOcLy"


def sign_in_refusal(locked_until: datetime | None) -> str:
    """The sign-in page's answer to a refused attempt: one sentence for a wrong password or a name without an
    account, one for a locked name. Neither depends on whether an account has the name."""
    if locked_until is not None:
        return (
            f"This account is locked after {MAX_FAILED_ATTEMPTS} failed sign-in attempts. Try again after "
            f"{locked_until:%H:%M} UTC ({LOCKOUT_MINUTES} minutes from the last attempt), or ask an "
            "administrator to unlock it."
        )
    return (
        "The username or password is incorrect. "
        f"After {MAX_FAILED_ATTEMPTS} failed attempts the account is locked for {LOCKOUT_MINUTES} minutes."
    )


class AccountLocked(Exception):
    """A password was typed at a locked account: it is not looked at, and nothing changes."""

    def __init__(self, locked_until: datetime | None) -> None:
        super().__init__(sign_in_refusal(locked_until))
        self.locked_until = locked_until


REGISTRATION_NOT_COMPLETED = "Registration could not be completed. Please check the fields and try again."


# --- usernames -----------------------------------------------------------------------------
# The database is authoritative: auth_register stores lower(btrim(p_username)) in private.credentials, whose check
# constraint credentials_username_format is `username ~ '^[a-z0-9_.-]{3,30}$'`. The portal sends the username as
# streamlit-authenticator and DatabaseUsers make it (lowercased, ends trimmed: `clean_username`), so this one rule,
# applied to that, is the database's rule exactly. The authenticator's own Validator.validate_username (1 to 20 of
# [a-zA-Z0-9_-], or an email address) is replaced by it (components/registration.PortalValidator).

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 30
USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_USERNAME_FORMAT = re.compile(rf"[a-z0-9_.-]{{{USERNAME_MIN_LENGTH},{USERNAME_MAX_LENGTH}}}", re.ASCII)
USERNAME_RULES = (
    f"Usernames are {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters: letters a–z (kept in "
    f"lowercase), digits, dots, dashes or underscores."
)


def portal_has_accounts(backend: Backend) -> bool:
    """Whether anyone has registered yet (the sign-in page of a fresh portal says how to begin)."""
    return bool(backend.rpc("portal_has_accounts", {}, as_user=SERVICE))


def clean_username(username: str | None) -> str:
    """A typed username as it is sent to the database: lowercased, ends trimmed (as the authenticator does)."""
    return (username or "").lower().strip()


def username_problem(username: str | None) -> str | None:
    """What is wrong with a username, followed by USERNAME_RULES; None when the database will take it."""
    key = clean_username(username)
    if _USERNAME_FORMAT.fullmatch(key):
        return None
    if not key:
        return f"Enter a username. {USERNAME_RULES}"
    others = sorted({c for c in key if c not in USERNAME_CHARACTERS})
    if others:
        shown = ", ".join(
            "spaces" if c.isspace() else f"“{c}”" if c.isprintable() else f"U+{ord(c):04X}" for c in others
        )
        return f"A username cannot contain {shown}. {USERNAME_RULES}"
    if len(key) < USERNAME_MIN_LENGTH:
        return (
            f"“{key}” is {len(key)} character{'' if len(key) == 1 else 's'} long; the least is "
            f"{USERNAME_MIN_LENGTH}. {USERNAME_RULES}"
        )
    return f"That username is {len(key)} characters long; the most is {USERNAME_MAX_LENGTH}. {USERNAME_RULES}"


# --- names at registration ----------------------------------------------------------------
# streamlit-authenticator's own Validator.validate_name (0.4.2) accepts only 2 to 100 characters from a few
# Unicode blocks plus ' . - and space: it refuses "O’Brien" (typographic apostrophe), one-letter names ("李"),
# decomposed accents ("Zoe" + U+0308), the ʻokina and no-break spaces, and says only "is not valid".
# These rules accept ordinary names in any script and explain every refusal.

NAME_MAX_LENGTH = 40
DISPLAY_NAME_MAX_LENGTH = 80  # profiles_display_name_length: "first last"
NAME_RULES = (
    f"Names may use letters from any alphabet (accents welcome), spaces, apostrophes, hyphens and "
    f"full stops, up to {NAME_MAX_LENGTH} characters."
)
_NAME_PUNCTUATION = frozenset("'’ʼʻ‘-‐‑. ")  # apostrophes and ʻokina, hyphens, full stop, space
_JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiner: part of spelling in Persian and Indic scripts


def clean_name(name: str | None) -> str:
    """A typed name as stored: composed accents (NFC), runs of spaces (any kind) made one, ends trimmed."""
    return " ".join(unicodedata.normalize("NFC", name or "").split())


def name_problem(label: str, name: str | None) -> str | None:
    """What is wrong with a first or last name, and what is allowed; None when it is fine."""
    text = unicodedata.normalize("NFC", name or "")
    if any(_is_control(c) for c in text):
        return f"{label} contains an invisible control character (such as a tab or line break). {NAME_RULES}"
    text = clean_name(text)
    if not text:
        return f"Enter your {label.lower()}. {NAME_RULES}"
    if len(text) > NAME_MAX_LENGTH:
        return f"{label} is {len(text)} characters long; the most is {NAME_MAX_LENGTH}. {NAME_RULES}"
    digits = sorted({c for c in text if unicodedata.category(c).startswith("N")})
    if digits:
        return f"{label} cannot contain digits ({' '.join(digits)}). {NAME_RULES}"
    others = sorted({c for c in text if not _is_letter(c) and c not in _NAME_PUNCTUATION})
    if others:
        return f"{label} cannot contain {', '.join(f'“{c}”' for c in others)}. {NAME_RULES}"
    if not any(unicodedata.category(c).startswith("L") for c in text):
        return f"{label} needs at least one letter. {NAME_RULES}"
    return None


def registration_name_problems(first_name: str | None, last_name: str | None) -> dict[str, str]:
    """Problems with the two name fields of the registration form, keyed 'first_name' / 'last_name'."""
    problems = {
        field: message
        for field, message in (
            ("first_name", name_problem("First name", first_name)),
            ("last_name", name_problem("Last name", last_name)),
        )
        if message
    }
    if not problems:
        together = len(clean_name(first_name)) + 1 + len(clean_name(last_name))
        if together > DISPLAY_NAME_MAX_LENGTH:
            problems["last_name"] = (
                f"Together your first and last name are {together} characters long; the most "
                f"is {DISPLAY_NAME_MAX_LENGTH}. Shorten one of them."
            )
    return problems


def _is_control(char: str) -> bool:
    category = unicodedata.category(char)
    return category == "Cc" or (category == "Cf" and char not in _JOINERS) or category in ("Zl", "Zp")


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM" or char in _JOINERS


@dataclass(frozen=True)
class CurrentUser:
    """Who is signed in, kept in st.session_state for the session."""

    id: str
    username: str
    display_name: str
    is_admin: bool
    is_consultant: bool = False

    @property
    def claims(self) -> Claims:
        return Claims.user(self.id)


class UserRecord(dict):
    """One user's entry as the authenticator sees it; writes go to the database."""

    def __init__(self, backend: Backend, username: str, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._backend = backend
        self._username = username

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "password":
            self._set_password_hash(value)
        elif key == "failed_login_attempts":
            if not value:
                # A success counts only if the account is not locked at this moment (decided in the database,
                # atomically: parallel wrong attempts may have locked it since this run read it).
                # A counted success opens a session (private.sign_in_sessions); the cookie will carry its id.
                state = self._backend.rpc(
                    "auth_record_successful_login", {"p_username": self._username}, as_user=SERVICE
                )
                super().__setitem__("locked_until", state["locked_until"])
                super().__setitem__("session_id", state.get("session"))
                value = 0 if state["signed_in"] else MAX_FAILED_ATTEMPTS
            elif value > (self.get("failed_login_attempts") or 0):
                state = self._backend.rpc("auth_record_failed_login", {"p_username": self._username}, as_user=SERVICE)
                super().__setitem__("locked_until", state["locked_until"])
                value = state["failed_attempts"]
        # Other keys ("logged_in", ...) describe this run only and are not persisted.
        super().__setitem__(key, value)

    def _set_password_hash(self, value: str) -> None:
        """A new password (Account -> Change password). The database refuses it while the account is locked, in
        the statement that writes it: wrong passwords sent in parallel may have locked it since it was checked."""
        try:
            self._backend.rpc(
                "auth_set_password_hash", {"p_username": self._username, "p_password_hash": value}, as_user=SERVICE
            )
        except APIError as exc:
            if exc.details == "locked":
                locked_until = datetime.fromisoformat(exc.hint) if exc.hint else None
                super().__setitem__("locked_until", exc.hint)
                raise AccountLocked(locked_until) from exc
            raise

    @property
    def locked_until(self) -> datetime | None:
        value = self.get("locked_until")
        return datetime.fromisoformat(value) if value else None


def check_password(record: UserRecord, password: str) -> bool:
    """The one check of a typed password, at every door that takes one (the sign-in form, Account -> Change
    password). A locked name is refused before its password is looked at (AccountLocked); a wrong password is
    counted in the database (the fifth in a row locks the name for 15 minutes); a right one returns True, and the
    door's next step (auth_record_successful_login, auth_set_password_hash) is refused by the database if parallel
    attempts locked the name meanwhile."""
    if record.locked_until is not None:
        raise AccountLocked(record.locked_until)
    if bcrypt.checkpw((password or "").encode(), record["password"].encode()):
        return True
    record["failed_login_attempts"] = (record.get("failed_login_attempts") or 0) + 1
    return False


def _record_from_row(backend: Backend, row: dict[str, Any]) -> UserRecord:
    return UserRecord(
        backend,
        row["username"],
        {
            "user_id": row["id"],
            "email": row["email"],
            "name": row["display_name"],
            "password": row["password_hash"] or DUMMY_PASSWORD_HASH,  # a name without an account: same bcrypt work
            "failed_login_attempts": row["failed_attempts"],
            "locked_until": row["locked_until"],
            "roles": ["admin", "member"] if row["is_admin"] else ["member"],
            "is_consultant": bool(row.get("is_consultant")),
            "logged_in": False,
        },
    )


class DatabaseUsers(MutableMapping):
    """`credentials['usernames']`, backed by the database one user at a time."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._loaded: dict[str, UserRecord] = {}
        self._absent: set[str] = set()
        self._unclaimed: dict[str, UserRecord] = {}  # names without an account, tried at the sign-in form
        self._every_name = False

    @contextmanager
    def answering_every_name(self) -> Iterator[None]:
        """While the sign-in form runs: every typed name has a record (see the module's docstring)."""
        self._every_name = True
        try:
            yield
        finally:
            self._every_name = False

    def _lookup(self, username: str) -> UserRecord | None:
        if not isinstance(username, str):
            return None
        key = username.lower().strip()
        if key in self._loaded:
            return self._loaded[key]
        if self._every_name:
            return self._sign_in_lookup(key)
        if key in self._absent or not key:
            return None
        row = self._backend.rpc("auth_get_login", {"p_username": key}, as_user=SERVICE)
        if row is None:
            self._absent.add(key)
            return None
        record = _record_from_row(self._backend, row)
        self._loaded[key] = record
        return record

    def _sign_in_lookup(self, key: str) -> UserRecord | None:
        """One call for every name, account or not (auth_sign_in_record): the same work, the same record."""
        if not key:
            return None
        if key in self._unclaimed:
            return self._unclaimed[key]
        row = self._backend.rpc("auth_sign_in_record", {"p_username": key}, as_user=SERVICE)
        record = _record_from_row(self._backend, row)
        if row["id"] is None:
            self._unclaimed[key] = record  # kept apart: outside the form the name has no account
        else:
            self._absent.discard(key)
            self._loaded[key] = record
        return record

    def __getitem__(self, username: str) -> UserRecord:
        record = self._lookup(username)
        if record is None:
            raise KeyError(username)
        return record

    def __contains__(self, username: object) -> bool:
        return self._lookup(username) is not None  # type: ignore[arg-type]

    def __setitem__(self, username: str, data: dict[str, Any]) -> None:
        """An account made at once (the authenticator's register widget, which no page draws: the Register page
        asks for a link instead, portal.account_links). The database's unique constraints are the final word, and
        a refusal never says that an address has an account."""
        key = clean_username(username)
        if problem := username_problem(key):  # refused here, before the database's check constraint
            raise Refusal(problem, "username")
        if key in self:
            raise Refusal("That username is taken. Choose another one.", "username")
        first = (data.get("first_name") or "").strip()
        last = (data.get("last_name") or "").strip()
        display_name = f"{first} {last}".strip() or data.get("name") or key
        try:
            user_id = self._backend.rpc(
                "auth_register",
                {
                    "p_username": key,
                    "p_email": data["email"],
                    "p_display_name": display_name,
                    "p_password_hash": data["password"],
                },
                as_user=SERVICE,
            )
        except APIError as exc:
            raise Refusal(_registration_message(exc)) from exc
        self._absent.discard(key)
        self._loaded[key] = UserRecord(
            self._backend,
            key,
            {
                **data,
                "user_id": user_id,
                "name": display_name,
                "failed_login_attempts": 0,
                "locked_until": None,
                "roles": ["member"],
            },
        )

    def __delitem__(self, username: str) -> None:
        raise NotImplementedError("Accounts are deleted from My data, not by the authenticator.")

    def __iter__(self) -> Iterator[str]:
        # Only the users looked up during this run: never the whole table.
        return iter(dict(self._loaded))

    def __len__(self) -> int:
        return len(self._loaded)

    def check_credentials(self, username: str, password: str) -> bool:
        """streamlit-authenticator's own check (AuthenticationModel.check_credentials), replaced by this one for
        both the sign-in form and Change password (app.py): every door counts failures and honours the lock."""
        record = self._lookup(username)
        return record is not None and check_password(record, password)

    def tried_record(self) -> UserRecord | None:
        """The name whose sign-in failed or is locked in this run (with or without an account), if any."""
        tried = [
            r
            for r in [*self._loaded.values(), *self._unclaimed.values()]
            if r.get("failed_login_attempts") or r.locked_until
        ]
        return tried[-1] if tried else None

    def opened_session(self) -> SignInSession | None:
        """The session a counted success opened in this run (sign-in, or a password change), if any."""
        for username, record in self._loaded.items():
            if record.get("session_id"):
                return SignInSession(str(record["user_id"]), str(record["session_id"]), username)
        return None


@dataclass(frozen=True)
class SignInSession:
    """One signed-in browser: a row of private.sign_in_sessions, named in the cookie with its account."""

    user_id: str
    session_id: str
    username: str


def _registration_message(exc: APIError) -> str:
    text = f"{exc.json().get('message')} {exc.details}"  # the database's own words name the constraint
    if exc.code == "23505" and "email" in text:
        # Never "this email has an account": that told anyone whether a colleague is registered (#13).
        return REGISTRATION_NOT_COMPLETED
    if exc.code == "23505":
        return "That username is taken. Choose another one."
    if exc.code == "23514" and "username" in text:
        return USERNAME_RULES
    if exc.code == "23514" and "email" in text:
        return "Enter a valid email address."
    if exc.code == "P0001" and exc.details == "display_name":  # the database's name rule, in its words
        return exc.json().get("message") or REGISTRATION_NOT_COMPLETED
    if exc.code == "23514" and "display_name" in text:
        return "Your name must be between 2 and 80 characters."
    return REGISTRATION_NOT_COMPLETED


class DatabaseCredentials(dict):
    """The `credentials` dict handed to Authenticate.

    The authenticator replaces credentials['usernames'] with a plain dict while
    it initialises (lower-casing keys, or `{}` when it looks empty); keep the
    database-backed mapping instead so nothing is ever loaded wholesale.
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__(usernames=DatabaseUsers(backend))

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "usernames" and isinstance(self.get("usernames"), DatabaseUsers):
            return
        super().__setitem__(key, value)

    @property
    def users(self) -> DatabaseUsers:
        return self["usernames"]


def current_user_from(credentials: DatabaseCredentials, username: str) -> CurrentUser | None:
    record = credentials.users._lookup(username)
    if record is None:
        return None
    return CurrentUser(
        id=str(record["user_id"]),
        username=username.lower().strip(),
        display_name=record.get("name") or username,
        is_admin="admin" in (record.get("roles") or []),
        is_consultant=bool(record.get("is_consultant")),
    )
