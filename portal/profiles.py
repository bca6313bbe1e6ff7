"""My profile: validation with messages per field, loading and saving."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import available_timezones

from portal.db import Backend, Claims, Refusal

LICENSE_TYPES = (
    "LCSW",
    "LICSW",
    "LPC",
    "LPCC",
    "LMHC",
    "LMFT",
    "Psychologist (PhD)",
    "Psychologist (PsyD)",
    "Psychiatrist (MD/DO)",
    "PMHNP",
    "RP (Ontario)",
    "RCC (BC)",
    "RSW (Canada)",
    "CCC (Canada)",
    "Psychologist (Canada)",
)

PROFILE_FIELDS = (
    "display_name",
    "pronouns",
    "languages",
    "offers_telehealth",
    "offers_in_person",
    "city",
    "fee_usd",
    "sliding_scale",
    "years_in_practice",
    "timezone",
    "bio",
    "is_consultant",
    "home_jurisdiction",
)


# --- grid rows (My profile's licences, My practice's competencies, My availability's grids) -----------------
# A grid lists the rows saved before first and new rows after; messages number rows from the top, empty ones
# included. A new row left empty is ignored. A saved row whose every cell was cleared is refused, not deleted:
# deleting is done with the row's checkbox and the bin icon, so clearing cells never loses a row (or, for a
# competency, its verification) by accident.


def emptied_row_message(row: str) -> str:
    """The refusal for a saved row whose cells were all cleared; `row` names it as the grid's messages do."""
    return f"{row} is empty: fill it in again, or delete it with its checkbox and the bin icon."


def saved_rows_kept(saved: int, edits: dict[str, Any] | None) -> int:
    """How many of a grid's `saved` rows are still in it, given the grid's edits (Streamlit's data-editor state:
    `deleted_rows` holds positions of deleted rows). They come first in the grid, before any new rows."""
    deleted = {int(row) for row in (edits or {}).get("deleted_rows") or []}
    return saved - len(deleted & set(range(saved)))


@dataclass
class LicenseInput:
    jurisdiction: str | None
    license_type: str | None
    license_number: str | None
    expires_on: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "license_type": (self.license_type or "").strip(),
            "license_number": (self.license_number or "").strip(),
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
        }

    def is_blank(self) -> bool:
        """Nothing typed in any cell: a row added to the grid and left empty (or a saved one cleared)."""
        return (
            not (self.jurisdiction or "").strip()
            and not (self.license_type or "").strip()
            and not (self.license_number or "").strip()
            and self.expires_on is None
        )


def filled(licenses: list[LicenseInput]) -> list[LicenseInput]:
    """The rows that hold anything (the ones saved); validation reports the incomplete ones among them."""
    return [lic for lic in licenses if not lic.is_blank()]


@dataclass
class ProfileInput:
    display_name: str = ""
    pronouns: str = ""
    languages: list[str] = field(default_factory=lambda: ["en"])
    offers_telehealth: bool = True
    offers_in_person: bool = False
    city: str = ""
    fee_usd: int | None = None
    sliding_scale: bool = False
    years_in_practice: int | None = None
    timezone: str = "America/New_York"
    bio: str = ""
    is_consultant: bool = False
    # Where the member lives (a state or province): consultants must be licensed there to take them on.
    home_jurisdiction: str | None = None
    # The licence grid's rows, top to bottom, as typed (empty ones included, so that messages number rows as the
    # grid shows them); the first `saved_licenses` of them were saved before, the rest are new.
    licenses: list[LicenseInput] = field(default_factory=list)
    saved_licenses: int = 0

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ProfileInput:
        return cls(
            **{
                k: (doc[k] if doc.get(k) is not None else getattr(cls(), k))
                for k in PROFILE_FIELDS
                if k not in ("fee_usd", "years_in_practice")
            },
            fee_usd=doc.get("fee_usd"),
            years_in_practice=doc.get("years_in_practice"),
            licenses=[
                LicenseInput(
                    jurisdiction=lic["jurisdiction"],
                    license_type=lic["license_type"],
                    license_number=lic["license_number"],
                    expires_on=date.fromisoformat(lic["expires_on"]) if lic.get("expires_on") else None,
                )
                for lic in doc.get("licenses", [])
            ],
            saved_licenses=len(doc.get("licenses", [])),
        )

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PROFILE_FIELDS}


_TIMEZONES: frozenset[str] | None = None


def known_timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(tz for tz in available_timezones() if "/" in tz and not tz.startswith("Etc/"))
    return _TIMEZONES


def timezone_label(name: str) -> str:
    """'America/New_York' -> 'New York (America/New_York, UTC−05:00)' for pickers."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        offset = datetime.now(ZoneInfo(name)).strftime("%z")
    except (KeyError, ValueError):
        return name
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} ({name}, UTC{offset[0].replace('-', '−')}{offset[1:3]}:{offset[3:]})"


def validate(
    profile: ProfileInput, *, jurisdictions: set[str], languages: set[str], today: date | None = None
) -> dict[str, str]:
    """Every problem with the form, keyed by field; empty when it may be saved."""
    today = today or datetime.now(UTC).date()
    errors: dict[str, str] = {}
    name = (profile.display_name or "").strip()
    if not 2 <= len(name) <= 80:
        errors["display_name"] = "Your name must be between 2 and 80 characters."
    if len(profile.pronouns or "") > 40:
        errors["pronouns"] = "Pronouns can be at most 40 characters."
    if not profile.languages:
        errors["languages"] = "Choose at least one language you work in."
    elif len(profile.languages) > 10:
        errors["languages"] = "Choose at most 10 languages."
    elif set(profile.languages) - languages:
        errors["languages"] = "Pick languages from the list."
    if not (profile.offers_telehealth or profile.offers_in_person):
        errors["offers_telehealth"] = "Offer at least one format: telehealth or in person."
    if profile.offers_in_person and not (profile.city or "").strip():
        errors["city"] = "Name the city where you see people in person."
    elif len(profile.city or "") > 80:
        errors["city"] = "The city can be at most 80 characters."
    if profile.fee_usd is not None and not 0 <= profile.fee_usd <= 1000:
        errors["fee_usd"] = "The fee must be between $0 and $1,000 per session."
    if profile.is_consultant and profile.fee_usd is None:
        errors["fee_usd"] = "Consultants state a fee per session (it may be $0)."
    if profile.years_in_practice is not None and not 0 <= profile.years_in_practice <= 70:
        errors["years_in_practice"] = "Years in practice must be between 0 and 70."
    if profile.home_jurisdiction is not None and profile.home_jurisdiction not in jurisdictions:
        errors["home_jurisdiction"] = "Choose the state or province where you live from the list."
    if profile.timezone not in known_timezones():
        errors["timezone"] = "Choose a time zone from the list."
    if len(profile.bio or "") > 2000:
        errors["bio"] = f"The bio can be at most 2,000 characters (it has {len(profile.bio)})."
    license_problems = validate_licenses(
        profile.licenses, jurisdictions=jurisdictions, today=today, saved_rows=profile.saved_licenses
    )
    if license_problems:
        errors["licenses"] = " ".join(license_problems)
    elif profile.is_consultant and not filled(profile.licenses):
        errors["licenses"] = "Consultants list at least one current licence."
    return errors


def validate_licenses(
    licenses: list[LicenseInput], *, jurisdictions: set[str], today: date, saved_rows: int = 0
) -> list[str]:
    """One sentence per problem, naming the row (counted from the top of the grid, empty rows included) and the
    field.

    Every column is required; an incomplete row (a new one included) is reported, never dropped. An empty row is
    skipped (and not saved: see `filled`) when it is new; one of the first `saved_rows` (saved before) emptied is
    refused: a saved licence is deleted with the grid's checkbox and bin icon, never by clearing its cells.
    """
    problems = []
    seen: set[str] = set()
    for number, lic in enumerate(licenses, start=1):
        if lic.is_blank():
            if number <= saved_rows:
                problems.append(emptied_row_message(f"Licence {number}"))
            continue
        row = f"Licence {number}:"
        if not lic.jurisdiction:
            problems.append(f"{row} choose a state or province.")
        elif lic.jurisdiction not in jurisdictions:
            problems.append(f"{row} choose a state or province from the list.")
        elif lic.jurisdiction in seen:
            problems.append(f"{row} {lic.jurisdiction} is listed twice; keep one licence per jurisdiction.")
        else:
            seen.add(lic.jurisdiction)
        if not (lic.license_type or "").strip():
            problems.append(f"{row} choose a licence type.")
        number_text = (lic.license_number or "").strip()
        if not number_text:
            problems.append(f"{row} enter the licence number.")
        elif not 2 <= len(number_text) <= 40 or not all(c.isalnum() or c in " ./-" for c in number_text):
            problems.append(f"{row} the number must be 2 to 40 letters, digits, spaces, dots, slashes or dashes.")
        if lic.expires_on is None:
            problems.append(f"{row} give the expiry date.")
        elif lic.expires_on < today:
            problems.append(f"{row} it expired on {lic.expires_on:%d %b %Y}; renew it or remove the row.")
    return problems


def load_my_profile(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_profile", {}, as_user=claims)


def save_my_profile(
    backend: Backend, claims: Claims, profile: ProfileInput, *, expected_version: int
) -> dict[str, Any]:
    """Save the licences that hold anything; raises Refusal with per-field messages when the database refuses,
    or when a saved licence was emptied (never deleted that way)."""
    emptied = [
        emptied_row_message(f"Licence {n}")
        for n, lic in enumerate(profile.licenses[: profile.saved_licenses], start=1)
        if lic.is_blank()
    ]
    if emptied:
        raise Refusal("Some fields need attention.", fields={"licenses": " ".join(emptied)})
    try:
        saved = backend.rpc(
            "save_my_profile",
            {
                "p_profile": profile.as_json(),
                "p_licenses": [lic.as_json() for lic in filled(profile.licenses)],
                "p_expected_version": expected_version,
            },
            as_user=claims,
        )
        if profile.home_jurisdiction and profile.home_jurisdiction != saved.get("home_jurisdiction"):
            saved = backend.rpc(
                "set_my_home_jurisdiction", {"p_jurisdiction": profile.home_jurisdiction}, as_user=claims
            )
        return saved
    except Refusal as exc:
        raise _profile_refusal(exc) from exc


def _profile_refusal(exc: Refusal) -> Refusal:
    """The database's refusal as the profile form shows it: the sentence (with its hint) next to its field."""
    next_to_field = {exc.field: f"{exc.message} {exc.hint or ''}".strip()} if exc.field else {}
    if exc.code == "P0001" and exc.field == "version":
        return Refusal(f"{exc.message} {exc.hint}", "version", exc.code)
    if exc.code == "P0001" and exc.field in ("languages", "licenses", "home_jurisdiction", "is_consultant"):
        return Refusal(exc.message, code=exc.code, fields=next_to_field)
    if exc.code == "P0001" and exc.field in PROFILE_FIELDS:
        # The database states each field's rule (a trigger on profiles): its sentence goes next to the field.
        return Refusal("Some fields need attention.", code=exc.code, fields=next_to_field)
    if exc.code in ("22P02", "22003", "22007", "22008"):
        return Refusal("A number or date in the form has the wrong format.", code=exc.code)
    return Refusal(exc.message, code=exc.code)


def profile_checklist(doc: dict[str, Any]) -> list[str]:
    """What is still missing from a profile, in the words the home page shows."""
    missing = []
    if not doc.get("home_jurisdiction"):
        missing.append("Say where you live (state or province): a consultant must be licensed there to work with you.")
    if not doc.get("licenses"):
        missing.append("Add at least one licence with its state or province and expiry date.")
    if doc.get("years_in_practice") is None:
        missing.append("Say how many years you have been in practice.")
    if doc.get("is_consultant") and not doc.get("bio"):
        missing.append("Write a short bio so seekers know how you work.")
    return missing
