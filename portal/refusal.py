"""The one refusal: something a member asked for was refused, for a reason they can read and act on.

The backend raises it for every error the database answers (portal/db/errors.refusal_from), the core modules for
their own checks, and the pages show it next to the field it names (components/errors.show_refusal). It is a
postgrest APIError too, so a caller that tells database errors apart by their SQLSTATE keeps doing so, and
`json()` still gives the database's own words (a constraint's name, say) to code that needs them.
"""

from __future__ import annotations

from postgrest import APIError

__all__ = ["Refusal"]


class Refusal(APIError):
    """`message`: a sentence for a person. `field`: the input it belongs next to (None: the form as a whole).
    `fields`: field -> sentence when a form is refused on several fields at once. `code`: what kind of refusal,
    for a page that acts on it: the database's SQLSTATE for its refusals ('P0001', 'PT404', '42501', ...); for a
    core check, the field it names unless given. `from_database`: raised by the backend as the database answered,
    not yet taken up by a core function (which words it for its page and raises a Refusal of its own)."""

    message: str  # always a sentence here (postgrest's APIError allows None)
    from_database = False

    def __init__(
        self,
        message: str,
        field: str | None = None,
        code: str | None = None,
        *,
        fields: dict[str, str] | None = None,
        error: dict | None = None,
    ) -> None:
        super().__init__(error or {"code": code, "message": message, "details": field, "hint": None})
        self.args = (message,)  # str(refusal) is the sentence
        self.message = message
        self.fields = dict(fields) if fields else ({field: message} if field else {})
        self.field = field or next(iter(self.fields), None)
        self.code = code or self.field

    @property
    def stale(self) -> bool:
        """Refused because the other party moved on: the version the form was drawn from is no longer the latest."""
        return self.field == "version"

    def __repr__(self) -> str:
        return f"Refusal({self.message!r}, field={self.field!r}, code={self.code!r})"
