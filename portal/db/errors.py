"""Errors every backend raises, and their wording for people."""

from __future__ import annotations

import json
import re

from postgrest import APIError

from portal.refusal import Refusal

__all__ = [
    "APIError",
    "DatabaseUnavailable",
    "NOT_FOUND_CODES",
    "Refusal",
    "friendly_message",
    "is_not_found",
    "refusal_from",
]


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the caller should keep the user's input."""

    def __init__(self, message: str = "The database is not reachable right now.") -> None:
        super().__init__(message)


#: "Not found": PT404 is what the functions raise (PostgREST answers HTTP 404 for it, migration
#: 20261129001900); P0002 is what they raised before, still recognised.
NOT_FOUND_CODES = frozenset({"PT404", "P0002"})


def is_not_found(error: Exception) -> bool:
    """Whether a call answered "no such thing" (someone else removed it, or it is not the caller's to see)."""
    return isinstance(error, APIError) and error.code in NOT_FOUND_CODES


# Postgres codes whose own message is not meant for people.
_GENERIC = {
    "42501": "You do not have permission to do that.",
    "23505": "That already exists.",
    "23503": "That refers to something that no longer exists.",
    "23514": "One of the values is not allowed.",
    "22P02": "One of the values has the wrong format.",
    "22003": "A number is out of range.",
    "22007": "A date or time has the wrong format.",
    "22008": "A date or time is out of range.",
    "57014": "The request took too long and was stopped. Please try again.",
    "40P01": "Someone else was changing the same thing at that moment. Please try again.",
    "40001": "Someone else was changing the same thing at that moment. Please try again.",
    "PGRST202": "That action is not available.",
}


def friendly_message(error: Exception) -> str:
    """One sentence for a person; never a traceback."""
    if isinstance(error, DatabaseUnavailable):
        return (
            "The portal cannot reach its database at the moment. Nothing you typed was lost; "
            "try again in a few seconds."
        )
    if isinstance(error, Refusal):
        return error.message
    if isinstance(error, APIError):
        # Messages raised on purpose by our functions (P0001, not found, 42501 with text)
        # are written as sentences for people.
        if (error.code == "P0001" or is_not_found(error)) and error.message:
            return error.message
        if _raised_on_purpose(error) and error.message:
            return error.message
        return _GENERIC.get(error.code or "", "Something went wrong while saving. Please try again.")
    return "Something unexpected went wrong. Please try again."


_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _fields_named(error: APIError) -> tuple[str | None, dict[str, str] | None]:
    """The field(s) a refusal names: the functions and the *_in_sentences triggers raise P0001 (a few 22023 or
    42501) with the field in `detail`; on plan versions, a JSON object of field -> sentence (the guardrails, one
    sentence per field)."""
    details = error.details
    if not isinstance(details, str) or not (error.code == "P0001" or _raised_on_purpose(error)):
        return None, None
    if details.startswith("{"):
        try:
            named = json.loads(details)
        except ValueError:
            return None, None
        return None, {str(k): str(v) for k, v in named.items()} if isinstance(named, dict) else None
    return (details, None) if _FIELD_NAME.fullmatch(details) else (None, None)


def _raised_on_purpose(error: APIError) -> bool:
    """A function's own refusal under another code (22023 for a malformed value, 42501 for who may): a sentence,
    its field in `detail` like P0001's; Postgres's own messages in those classes start in lowercase."""
    message = error.message or ""
    return error.code in ("42501", "22023") and message[:1].isupper()


def refusal_from(error: APIError) -> Refusal:
    """What both backends raise for an error the database (or PostgREST) answered: a Refusal worded for people
    (friendly_message), naming its field, with the SQLSTATE as its code; `json()` keeps the database's words."""
    if isinstance(error, Refusal):
        return error
    field, fields = _fields_named(error)
    refusal = Refusal(friendly_message(error), field, error.code, fields=fields, error=error.json())
    refusal.from_database = True
    return refusal
