"""Dual-relationship screening as a member uses it: declarations, checks, waivers, the log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.db import Backend, Claims, Refusal

AFFILIATION_KINDS = {
    "practice": "Group practice",
    "agency": "Agency or clinic",
    "hospital": "Hospital",
    "university": "University",
    "training_programme": "Training programme or institute",
    "board": "Professional or licensing board",
    "association": "Large professional association (not screened)",
}
LEVEL_TEXT = {
    "none": "No conflict found.",
    "waived": "A possible conflict was found and both of you signed a waiver.",
    "potential": "A possible dual relationship was found. Discuss it; you may proceed only if both of you "
    "sign a waiver with your reasons.",
    "blocking": "A conflict that rules out treatment was found. It cannot be waived.",
}
# What the seeker is told when the screening that runs with a request (declarations by email, shared
# organisations, indirect ties) finds something: the consultant is shown the same.
REQUEST_SCREENING_FOUND = {
    "potential": "The screening that runs with each request found a possible dual relationship, from information "
    "you may not see. The consultant sees the same. Discuss it under Check for conflicts; the work can "
    "start only if both of you sign a waiver.",
    "blocking": "The screening that runs with each request found a conflict that rules out treatment. The "
    "consultant sees the same and will decline; you can look for someone else.",
}


def as_you_declared(label: str) -> str:
    """A rule's label is written in the declarer's voice ("was in my training cohort"); told back to them it
    reads in theirs: "You declared that this person was in your training cohort"."""
    words = {"my": "your", "me": "you", "I": "you", "mine": "yours"}
    return re.sub(r"\b(my|me|I|mine)\b", lambda m: words[m.group(1)], label)


def declared_sentence(label: str, when: str = "") -> str:
    """'You declared that this person was in your training cohort (2019 – now).' — or, for a label about what the
    declarer does ('I evaluate or evaluated them'), 'You declared that you evaluate or evaluated this person'.
    A check tells no period (which of several matched would tell the other side's dates): `when` left out."""
    if label.startswith("I "):
        core = "you " + re.sub(r"\bthem\b", "this person", label[2:])
    else:
        core = "this person " + as_you_declared(label)
    return f"You declared that {core} ({when})." if when else f"You declared that {core}."


def declared_about(who: str, label: str) -> str:
    """A declared relationship as one sentence about the person named: 'Dr X is my business partner', and for what
    the declarer does, 'I evaluate or evaluated Dr X' (never 'Dr X I evaluate or evaluated them')."""
    if label.startswith("I "):
        if re.search(r"\bthem\b", label):
            return "I " + re.sub(r"\bthem\b", lambda _: who, label[2:])
        return f"{label}: {who}"
    return f"{who} {label}"


def rule_sentence(label: str) -> str:
    """A rule as the admin's list reads it, a whole sentence in the declarer's voice: 'This person is my business
    partner', and for what the declarer does, 'I evaluate or evaluated this person' (never 'This person I
    evaluate or evaluated them')."""
    if label.startswith("I "):
        return "I " + re.sub(r"\bthem\b", "this person", label[2:])
    return "This person " + label


CONTEXT_TEXT = {
    "search": "Search pre-screen",
    "profile": "Profile viewed",
    "request": "Request sent",
    "accept": "Request accepted",
    "on_demand": "Check for conflicts",
}


@dataclass
class AffiliationInput:
    organisation: str
    kind: str
    role: str = ""
    email_domain: str = ""
    starts_on: date | None = None
    ends_on: date | None = None

    def problems(self) -> dict[str, str]:
        errors = {}
        if not 2 <= len(self.organisation.strip()) <= 120:
            errors["organisation"] = "Name the organisation (2 to 120 characters)."
        if self.kind not in AFFILIATION_KINDS:
            errors["kind"] = "Choose what kind of organisation it is."
        domain = self.email_domain.strip().lower()
        if domain and ("." not in domain or "@" in domain or " " in domain):
            errors["email_domain"] = "Give just the domain, like stmarys.org."
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "The end date is before the start date."
        return errors


@dataclass
class RelationshipInput:
    kind: str
    counterpart_id: str | None = None
    counterpart_name: str = ""
    counterpart_email: str = ""
    starts_on: date | None = None
    ends_on: date | None = None

    def problems(self, kinds: set[str]) -> dict[str, str]:
        errors = {}
        if self.kind not in kinds:
            errors["kind"] = "Choose the kind of relationship."
        if not self.counterpart_id and not self.counterpart_name.strip():
            errors["counterpart"] = "Pick a consultant from the list, or give the person's name."
        email = self.counterpart_email.strip()
        if email and ("@" not in email or "." not in email.split("@")[-1]):
            errors["counterpart_email"] = "That email address does not look right."
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "The end date is before the start date."
        return errors


def _refused(exc: Refusal) -> Refusal:
    """A check constraint's refusal (in the database's own words, naming the constraint) as a sentence next to
    its field; any other refusal as the database worded it."""
    text = exc.json().get("message") or ""
    if exc.code == "23514" and "organisation" in text:
        return Refusal("Name the organisation (2 to 120 characters).", "organisation", exc.code)
    if exc.code == "23514" and "domain" in text:
        return Refusal("Give just the domain, like stmarys.org.", "email_domain", exc.code)
    if exc.code == "23514" and "email" in text:
        return Refusal("That email address does not look right.", "counterpart_email", exc.code)
    if exc.code == "23514" and "dates" in text:
        return Refusal("The end date is before the start date.", "ends_on", exc.code)
    return Refusal(exc.message, exc.field, exc.code)


def my_declarations(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_declarations", {}, as_user=claims)


def add_affiliation(backend: Backend, claims: Claims, item: AffiliationInput) -> dict[str, Any]:
    if problems := item.problems():
        field, message = next(iter(problems.items()))
        raise Refusal(message, field)
    try:
        return backend.rpc(
            "add_my_affiliation",
            {
                "p_organisation": item.organisation,
                "p_kind": item.kind,
                "p_role": item.role,
                "p_email_domain": item.email_domain,
                "p_starts_on": _iso(item.starts_on),
                "p_ends_on": _iso(item.ends_on),
            },
            as_user=claims,
        )
    except Refusal as exc:
        raise _refused(exc) from exc


def add_relationship(backend: Backend, claims: Claims, item: RelationshipInput, kinds: set[str]) -> dict[str, Any]:
    if problems := item.problems(kinds):
        field, message = next(iter(problems.items()))
        raise Refusal(message, field)
    try:
        return backend.rpc(
            "add_my_relationship",
            {
                "p_kind": item.kind,
                "p_counterpart_id": item.counterpart_id,
                "p_counterpart_name": item.counterpart_name,
                "p_counterpart_email": item.counterpart_email,
                "p_starts_on": _iso(item.starts_on),
                "p_ends_on": _iso(item.ends_on),
            },
            as_user=claims,
        )
    except Refusal as exc:
        raise _refused(exc) from exc


def remove_declaration(backend: Backend, claims: Claims, declaration_id: str) -> dict[str, Any]:
    return backend.rpc("remove_my_declaration", {"p_id": declaration_id}, as_user=claims)


def find_consultants(backend: Backend, claims: Claims, query: str) -> list[dict[str, Any]]:
    return backend.rpc("find_consultants", {"p_query": query}, as_user=claims) if len(query.strip()) >= 2 else []


def relationship_kinds(backend: Backend, claims: Claims) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in backend.rpc("list_conflict_rules", {}, as_user=claims) if not r["derived"]}


def check(backend: Backend, claims: Claims, other_id: str) -> dict[str, Any]:
    return backend.rpc("check_conflicts", {"p_other": other_id}, as_user=claims)


def sign_waiver(backend: Backend, claims: Claims, other_id: str, rationale: str) -> dict[str, Any]:
    if len(rationale.strip()) < 20:
        raise Refusal(
            "Write your rationale in at least 20 characters: what you discussed and why you proceed.", "rationale"
        )
    try:
        return backend.rpc("sign_waiver", {"p_other": other_id, "p_rationale": rationale}, as_user=claims)
    except Refusal as exc:
        raise Refusal(f"{exc.message} {exc.hint or ''}".strip(), "rationale", exc.code) from exc


def screening_log(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_screening_log", {"p_limit": 100}, as_user=claims)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
