"""A consultant's practice: modality competencies with evidence, and intake (capacity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from portal.db import Backend, Claims, Refusal
from portal.mydata import plural
from portal.profiles import emptied_row_message


def capacity_below_active(active_clients: int) -> str:
    """The refusal of a capacity lower than the clients already held."""
    return (
        f"You have {plural(active_clients, 'active client')}; capacity can't be lower. "
        "To stop taking new clients, turn off 'Accepting new clients'."
    )


@dataclass
class CompetencyInput:
    modality: str | None
    level: int | None
    evidence_body: str | None = None
    evidence_credential: str | None = None
    evidence_year: int | None = None
    training_hours: int | None = None
    expires_on: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "level": self.level,
            "evidence_body": (self.evidence_body or "").strip() or None,
            "evidence_credential": (self.evidence_credential or "").strip() or None,
            "evidence_year": self.evidence_year,
            "training_hours": self.training_hours,
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
        }

    def is_blank(self) -> bool:
        """Nothing typed in any cell: a row added to the grid and left empty, which is not a competency."""
        return (
            not self.modality
            and self.level is None
            and not (self.evidence_body or "").strip()
            and not (self.evidence_credential or "").strip()
            and self.evidence_year is None
            and self.training_hours is None
            and self.expires_on is None
        )


def filled(rows: list[CompetencyInput]) -> list[CompetencyInput]:
    """The rows that hold anything (the ones saved); validation reports the incomplete ones among them."""
    return [row for row in rows if not row.is_blank()]


def emptied(rows: list[CompetencyInput], saved_rows: int) -> list[str]:
    """A refusal for each of the first `saved_rows` rows (saved before) whose cells were all cleared."""
    return [emptied_row_message(f"Row {n}") for n, row in enumerate(rows[:saved_rows], start=1) if row.is_blank()]


def validate(
    rows: list[CompetencyInput],
    capacity: int | None,
    *,
    modalities: set[str],
    today: date | None = None,
    saved_rows: int = 0,
    active_clients: int = 0,
) -> dict[str, str]:
    """Messages per field; for the grid one sentence per problem, naming the row (counted from the top of the
    grid, empty rows included) and the field.

    Modality and level are required in every row; an incomplete row (a new one included) is reported, never
    dropped. A new row with nothing typed in it is skipped (and not saved: see `filled`). One of the first
    `saved_rows` rows (saved before; the grid lists them first) with every cell cleared is refused: a saved
    competency, and its verification, is deleted with the grid's checkbox and bin icon, never by clearing it.

    Capacity may not be lower than `active_clients` (get_my_practice's count of active engagements): a consultant
    who wants no new clients turns off accepting instead, and Home never reads "1 of 0".
    """
    today = today or datetime.now(UTC).date()
    errors: dict[str, str] = {}
    if capacity is None or not 0 <= capacity <= 60:
        errors["capacity"] = "Capacity is the number of active clients you can hold: 0 to 60."
    elif capacity < active_clients:
        errors["capacity"] = capacity_below_active(active_clients)
    problems: list[str] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if row.is_blank():
            if n <= saved_rows:
                problems.append(emptied_row_message(f"Row {n}"))
            continue
        label = f"Row {n}:"
        if not row.modality:
            problems.append(f"{label} choose a modality.")
        elif row.modality not in modalities:
            problems.append(f"{label} choose a modality from the list.")
        elif row.modality in seen:
            problems.append(f"{label} that modality is listed twice; keep one row per modality.")
        else:
            seen.add(row.modality)
        if row.level is None:
            problems.append(f"{label} choose a level.")
        elif row.level not in (1, 2, 3, 4):
            problems.append(f"{label} choose a level from 1 to 4.")
        if row.evidence_year is not None and not 1950 <= row.evidence_year <= today.year:
            problems.append(f"{label} the year must be between 1950 and {today.year}.")
        if row.training_hours is not None and not 0 <= row.training_hours <= 20000:
            problems.append(f"{label} training hours must be between 0 and 20,000.")
        if row.level in (3, 4) and not (row.evidence_body or "").strip():
            problems.append(f"{label} levels 3 and 4 need the certifying body as evidence.")
        if len(row.evidence_body or "") > 120 or len(row.evidence_credential or "") > 60:
            problems.append(f"{label} the body is at most 120 and the credential id at most 60 characters.")
    if problems:
        errors["competencies"] = " ".join(problems)
    return errors


def load_my_practice(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_practice", {}, as_user=claims)


def save_my_practice(
    backend: Backend,
    claims: Claims,
    rows: list[CompetencyInput],
    *,
    accepting: bool,
    capacity: int,
    expected_version: int,
    saved_rows: int = 0,
) -> dict[str, Any]:
    """Save the rows that hold anything; an emptied saved row (one of the first `saved_rows`) is refused."""
    if problems := emptied(rows, saved_rows):
        raise Refusal("Some fields need attention.", fields={"competencies": " ".join(problems)})
    try:
        return backend.rpc(
            "save_my_practice",
            {
                "p_competencies": [r.as_json() for r in filled(rows)],
                "p_accepting": accepting,
                "p_capacity": capacity,
                "p_expected_version": expected_version,
            },
            as_user=claims,
        )
    except Refusal as exc:
        if exc.code == "P0001" and exc.field == "version":
            raise Refusal(f"{exc.message} {exc.hint}", "version", exc.code) from exc
        if exc.code == "P0001" and exc.field == "capacity":  # the database's own sentence, next to the field
            raise Refusal(
                "Some fields need attention.", fields={"capacity": f"{exc.message} {exc.hint or ''}".strip()}
            ) from exc
        if exc.code == "P0001" and exc.field == "competencies":
            raise Refusal(exc.message, fields={"competencies": f"{exc.message} {exc.hint or ''}".strip()}) from exc
        raise Refusal(exc.message, code=exc.code) from exc


def list_modalities(backend: Backend, claims: Claims) -> dict[str, str]:
    return {row["code"]: row["name"] for row in backend.rpc("list_modalities", {}, as_user=claims)}


# --- where sessions happen (the invitations' LOCATION) ----------------------------------------------------------


def load_session_location(backend: Backend, claims: Claims) -> str:
    """The telehealth link or office address the caller's session invitations carry ('' when none is set)."""
    return backend.rpc("get_my_session_location", {}, as_user=claims) or ""


def save_session_location(backend: Backend, claims: Claims, location: str) -> str:
    """Save (or, when blank, remove) where the caller's sessions happen; a refusal names the field."""
    try:
        return backend.rpc("save_my_session_location", {"p_location": location}, as_user=claims) or ""
    except Refusal as exc:
        if exc.field == "location":
            raise Refusal(exc.message, "location", exc.code) from exc
        raise Refusal(exc.message, code=exc.code) from exc
