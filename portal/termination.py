"""Termination plans: terms, guardrails explained, versions, signatures, review."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from portal.db import APIError, Backend, Claims, DatabaseUnavailable, Refusal
from portal.local_times import in_zone

REASONS = {
    "goals_met": "Goals met",
    "client_choice": "Client's choice",
    "consultant_capacity": "Consultant's capacity",
    "relocation": "Relocation",
    "conflict_emerged": "A conflict emerged",
    "specialist_referral": "Referral to a specialist",
    "financial": "Financial",
    "safety": "Safety",
    "other": "Other",
}
CHECKLIST = {
    "pre_termination_discussion": "Pre-termination discussion held",
    "referrals_given": "Referrals given",
    "closing_session_held": "Closing session held",
    "summary_shared": "Records or summary shared",
    "follow_up_arranged": "Follow-up arranged",
}
# The terms a version states. Who initiated the ending is not one of them: it is the plan's (who started it),
# the same on every version, read from the plan by `initiated_by`.
FIELD_LABELS = {
    "reason": "Reason",
    "reason_notes": "Notes on the reason",
    "discussed_on": "Ending first discussed",
    "final_session_on": "Final session",
    "sessions_remaining": "Sessions remaining",
    "closing_sessions": "Closing sessions",
    "referrals": "Referrals",
    "follow_up_on": "Follow-up check-in",
    "aftercare_notes": "Aftercare notes",
    "checklist": "Checklist",
    "safety_justification": "Safety justification",
}
DATE_FIELDS = ("discussed_on", "final_session_on", "follow_up_on")
# What the form itself checks, in the database's own words (its trigger on plan versions states the same rules
# and names the field; the guardrails, which depend on who wrote the version, are the database's alone, and so is
# the length of a safety justification: public.termination_policy states it).
FIELD_RULES = {
    "final_session_on": "The final session cannot be before the ending was first discussed.",
    "follow_up_on": "The follow-up comes after the final session.",
    "closing_sessions": "Closing sessions are part of the sessions remaining.",
}


@dataclass
class PlanTerms:
    """What one version of a plan states. Who initiated the ending is the plan's, derived by the database."""

    reason: str
    discussed_on: date
    final_session_on: date
    sessions_remaining: int
    closing_sessions: int = 1
    reason_notes: str = ""
    referrals: list[dict[str, Any]] = field(default_factory=list)  # {"consultant_id", "name"} or {"name"}
    follow_up_on: date | None = None
    aftercare_notes: str = ""
    checklist: list[str] = field(default_factory=list)
    safety_justification: str = ""

    @classmethod
    def from_version(cls, version: dict[str, Any]) -> PlanTerms:
        def day(value):
            return date.fromisoformat(value) if value else None

        return cls(
            reason=version["reason"],
            discussed_on=day(version["discussed_on"]),
            final_session_on=day(version["final_session_on"]),
            sessions_remaining=version["sessions_remaining"],
            closing_sessions=version["closing_sessions"],
            reason_notes=version.get("reason_notes") or "",
            referrals=list(version.get("referrals") or []),
            follow_up_on=day(version.get("follow_up_on")),
            aftercare_notes=version.get("aftercare_notes") or "",
            checklist=list(version.get("checklist") or []),
            safety_justification=version.get("safety_justification") or "",
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("discussed_on", "final_session_on", "follow_up_on"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    def problems(self) -> dict[str, str]:
        """What the form itself can tell. The notice guardrails depend on who initiated the plan, who writes the
        version and the client's latest version, so the database decides them (and says what would pass)."""
        errors: dict[str, str] = {}
        if self.reason not in REASONS:
            errors["reason"] = "Choose a reason."
        if self.final_session_on < self.discussed_on:
            errors["final_session_on"] = FIELD_RULES["final_session_on"]
        if not 0 <= self.sessions_remaining <= 52:
            errors["sessions_remaining"] = "Sessions remaining is 0 to 52."
        if self.closing_sessions > self.sessions_remaining:
            errors["closing_sessions"] = FIELD_RULES["closing_sessions"]
        if self.follow_up_on and self.follow_up_on < self.final_session_on:
            errors["follow_up_on"] = FIELD_RULES["follow_up_on"]
        return errors


NEEDS_CHANGES = "The plan needs changes before it can be saved."


def _plan_refusal(exc: Refusal) -> Refusal:
    """The database's refusal as the plan's page shows it: with its hint, next to the field(s) it names."""
    if exc.code == "P0001" and exc.field == "version":
        return Refusal(f"{exc.message} {exc.hint or ''}".strip(), "version", exc.code)
    if exc.code == "P0001" and isinstance(exc.details, str) and exc.details.startswith("{"):
        # One sentence per field that failed, each saying what would pass (the guardrails' refusal, and the
        # plan version's own rules).
        return Refusal(f"{NEEDS_CHANGES} {exc.hint or ''}".strip(), code=exc.code, fields=json.loads(exc.details))
    if exc.code == "P0001" and isinstance(exc.details, str):
        return Refusal(f"{exc.message} {exc.hint or ''}".strip(), exc.details, exc.code)
    return Refusal(exc.message, code=exc.code)


def _call(backend: Backend, claims: Claims, fn: str, params: dict[str, Any]) -> Any:
    try:
        return backend.rpc(fn, params, as_user=claims)
    except Refusal as exc:
        raise _plan_refusal(exc) from exc


def start(backend: Backend, claims: Claims, engagement_id: str, terms: PlanTerms) -> str:
    if problems := terms.problems():
        raise Refusal(NEEDS_CHANGES, fields=problems)
    return _call(backend, claims, "start_termination_plan", {"p_engagement": engagement_id, "p_terms": terms.as_json()})


def revise(backend: Backend, claims: Claims, plan_id: str, terms: PlanTerms, *, expected_version: int) -> int:
    if problems := terms.problems():
        raise Refusal(NEEDS_CHANGES, fields=problems)
    return _call(
        backend,
        claims,
        "revise_termination_plan",
        {"p_plan": plan_id, "p_terms": terms.as_json(), "p_expected_version": expected_version},
    )


@dataclass(frozen=True)
class SaveOutcome:
    """What saving new terms came to: saved as `version`; or, when the plan moved on while they were being edited
    (the other party, or you in another window, saved first), `rebased`: the draft moved onto the plan as it is
    now (`plan`), from the version it was started from (`started_version`), to check and save again."""

    version: int | None = None
    plan: dict[str, Any] | None = None
    started_version: int | None = None
    rebased: Rebased | None = None

    @property
    def saved(self) -> bool:
        return self.rebased is None


def save_terms(
    backend: Backend, claims: Claims, plan: dict[str, Any], terms: PlanTerms, *, started_version: int
) -> SaveOutcome:
    """Save `terms` as the plan's next version, drawn from `started_version`. When the plan moved on meanwhile,
    nothing is saved: the answer is the draft rebased onto the newest version (your own edits re-applied to it),
    so saving again never undoes the other person's change. Any other refusal is raised."""
    try:
        return SaveOutcome(version=revise(backend, claims, plan["id"], terms, expected_version=started_version))
    except Refusal as refused:
        if not refused.stale:
            raise
    now = _plan_now(backend, claims, plan)
    started = next((v for v in now["versions"] if v["version"] == started_version), plan["versions"][-1])
    return SaveOutcome(plan=now, started_version=started_version, rebased=rebase(started, now["versions"][-1], terms))


def _plan_now(backend: Backend, claims: Claims, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as the database has it now; the caller's copy when it cannot be read (the next save is checked
    again)."""
    try:
        return next((p for p in my_plans(backend, claims, refresh=False) if p["id"] == plan["id"]), plan)
    except (APIError, DatabaseUnavailable):
        return plan


def completion_opens(plan: dict[str, Any], today: date) -> date | None:
    """The day an agreed plan can first be marked completed (its final session's day: the database refuses
    before it); None when it can be now. `today` is the database's date (UTC), which decides."""
    final = date.fromisoformat(plan["versions"][-1]["final_session_on"])
    return final if final > today else None


def completion_sentence(opens: date) -> str:
    """When "Mark completed" becomes possible, in the app's words for a date."""
    return f"You can mark this plan completed from {friendly_day(opens)}, the day of its final session."


def propose(backend: Backend, claims: Claims, plan_id: str, *, expected_version: int) -> None:
    _call(backend, claims, "propose_termination_plan", {"p_plan": plan_id, "p_expected_version": expected_version})


def sign(backend: Backend, claims: Claims, plan_id: str, version: int) -> str:
    return _call(backend, claims, "sign_termination_plan", {"p_plan": plan_id, "p_version": version})


def complete(backend: Backend, claims: Claims, plan_id: str) -> None:
    _call(backend, claims, "complete_termination_plan", {"p_plan": plan_id})


def withdraw(backend: Backend, claims: Claims, plan_id: str, reason: str) -> None:
    _call(backend, claims, "withdraw_termination_plan", {"p_plan": plan_id, "p_reason": reason})


def tick(backend: Backend, claims: Claims, plan_id: str, item: str, done: bool) -> None:
    _call(backend, claims, "tick_termination_checklist", {"p_plan": plan_id, "p_item": item, "p_done": done})


def refresh_reminders(backend: Backend, claims: Claims) -> int:
    """Write the reminders the caller's plans call for (each once: the database skips duplicates)."""
    return backend.rpc("refresh_termination_reminders", {}, as_user=claims)


def termination_policy(backend: Backend, claims: Claims) -> dict[str, int]:
    """The guardrails on a consultant's ending, as the database enforces them (public.termination_policy states
    them once): notice_days, closing_sessions, referrals, safety_justification_chars. The same for every member;
    read when a page draws, never cached with anyone's identity."""
    return backend.rpc("termination_policy", {}, as_user=claims)


def guardrails_sentence(policy: dict[str, int]) -> str:
    """What a consultant who ends the work owes the client, in the numbers the database enforces."""
    referrals = policy["referrals"]
    referral_words = "one referral" if referrals == 1 else f"{referrals} referrals"
    return (
        f"As the consultant you give at least {policy['notice_days']} days' and {policy['closing_sessions']} "
        f"sessions' notice from the first discussion, and at least {referral_words}. Only an ending for safety is "
        "exempt, with a written justification."
    )


def my_plans(backend: Backend, claims: Claims, *, refresh: bool = True) -> list[dict[str, Any]]:
    """The caller's plans; first refreshes their reminders unless `refresh` is False (a page that
    refreshes them only when `reminder_state` changes)."""
    if refresh:
        refresh_reminders(backend, claims)
    return backend.rpc("my_termination_plans", {}, as_user=claims)


def reminder_state(plans: list[dict[str, Any]], today: date) -> tuple:
    """What refresh_termination_reminders depends on: while it is unchanged, refreshing again adds nothing.

    A proposed plan you have not signed (per version), an agreed plan's final session within a week, a
    follow-up due: the open plans' status, version, your signature and dates, and the day.
    """
    open_plans = []
    for plan in plans:
        if plan["status"] not in ("proposed", "agreed"):
            continue
        current = plan["versions"][-1]
        signed = any(s["signer"] == "me" for s in current["signatures"])
        open_plans.append(
            (
                plan["id"],
                plan["status"],
                current["version"],
                signed,
                current["final_session_on"],
                current.get("follow_up_on"),
            )
        )
    return today.isoformat(), tuple(sorted(open_plans))


def awaiting(plan: dict[str, Any]) -> str:
    """Whose signature the plan waits for, in words."""
    if plan["status"] != "proposed":
        return ""
    current = plan["versions"][-1]
    signed = {s["signer"] for s in current["signatures"]}
    if "me" not in signed and "other" not in signed:
        return "Awaiting both signatures"
    return "Awaiting your signature" if "me" not in signed else f"Awaiting {plan['other_name']}'s signature"


def initiated_by(plan: dict[str, Any], *, me: str = "you") -> str:
    """Who first proposed ending the work, in the reader's words: 'The consultant (you)', 'The client (Ana Diaz)'.

    A fact of the plan (the member who started it), the same on every version whoever wrote it; `me` names the
    reader (a printed summary uses their name)."""
    role = plan["initiated_by"]
    who = me if role == plan["my_role"] else plan["other_name"]
    return f"{describe('initiated_by', role)} ({who})"


def who_vouched(plan: dict[str, Any], version: dict[str, Any], zone: str) -> str:
    """Who vouches for the dates of a version, in the reader's words.

    The author states when the ending was first discussed. A consultant may date it before the plan
    existed only on the client's word: the client's signature on that version confirms it (and no
    version is agreed without it)."""
    mine = version["author_is_me"]
    author_role = plan["my_role"] if mine else ("client" if plan["my_role"] == "consultant" else "consultant")
    author = "you" if mine else plan["other_name"]
    discussed_on = date.fromisoformat(version["discussed_on"])
    discussed = friendly_day(discussed_on)
    started = in_zone(plan["created_at"], zone).date()
    if discussed_on >= started or author_role == "client":
        return f"Ending first discussed {discussed}: stated by {author}."
    # From here the author is the consultant: the client is the other party if I wrote it, else me.
    client_signed = any(s["signer"] == ("other" if mine else "me") for s in version["signatures"])
    before = (started - discussed_on).days
    ahead = f"{before} day{'s' if before != 1 else ''} before this plan was started ({friendly_day(started)})"
    if client_signed:
        client = plan["other_name"] if mine else "you"
        return f"Ending first discussed {discussed}, {ahead}: stated by {author}, confirmed by {client} by signing."
    if mine:
        return (
            f"Ending first discussed {discussed}, {ahead}: stated by you; {plan['other_name']}'s signature "
            "will confirm it."
        )
    return (
        f"Ending first discussed {discussed}, {ahead}: stated by {author}. Sign only if that is when you "
        "first talked about ending: your signature confirms the date."
    )


def friendly_day(value: date | str | None, *, today: date | None = None, year: bool = False) -> str:
    """A calendar date in the app's style: 'Thu 24 Dec', with the year when it is not this year (or always,
    with `year`, for a printed record); '—' for none."""
    if not value:
        return "—"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    show_year = year or day.year != (today or datetime.now(UTC).date()).year
    return f"{day:%a %d %b %Y}" if show_year else f"{day:%a %d %b}"


def describe(key: str, value: Any, *, year: bool = False) -> str:
    if key == "reason":
        return REASONS.get(value, value)
    if key == "initiated_by":
        return {"consultant": "The consultant", "client": "The client"}.get(value, value)
    if key == "referrals":
        return ", ".join(r.get("name") or "a portal consultant" for r in value or []) or "none"
    if key == "checklist":
        return ", ".join(CHECKLIST.get(item, item) for item in value or []) or "none"
    if key in DATE_FIELDS:
        return friendly_day(value, year=year)
    return "—" if value in (None, "", []) else str(value)


def differences(older: dict[str, Any], newer: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field label, before, after) for every term that changed between two versions."""
    return [
        (label, describe(key, older.get(key)), describe(key, newer.get(key)))
        for key, label in FIELD_LABELS.items()
        if older.get(key) != newer.get(key)
    ]


def _comparable(key: str, value: Any) -> Any:
    """A term as the database keeps it, for telling whether it changed: text trimmed, empty as none,
    the checklist and referrals in a fixed order (the form may list them in another)."""
    if isinstance(value, str):
        value = value.strip()
    if value in (None, "", []):
        return None
    if key == "checklist":
        order = list(CHECKLIST)
        return sorted(value, key=lambda item: (order.index(item) if item in order else len(order), item))
    if key == "referrals":
        # A portal consultant by id (their display name may have changed since), anyone else by name.
        return sorted(
            (r.get("consultant_id") or "", "" if r.get("consultant_id") else (r.get("name") or "").strip())
            for r in value
        )
    return value


@dataclass(frozen=True)
class RebaseRow:
    label: str
    started: str  # in the version you started editing from
    latest: str  # in the plan now
    draft: str  # in your draft re-applied to the plan now
    change: str  # "theirs" (changed in the plan since), "yours" (your edit), "both" (both, differently)


@dataclass(frozen=True)
class Rebased:
    terms: PlanTerms  # the plan now, with your own edits re-applied
    rows: list[RebaseRow]  # every term that changed on either side
    clashes: list[str]  # labels of terms both of you changed, differently: your value is kept

    @property
    def changed_since(self) -> bool:
        return any(row.change in ("theirs", "both") for row in self.rows)


def rebase(started: dict[str, Any], latest: dict[str, Any], mine: PlanTerms) -> Rebased:
    """Your draft moved onto the version saved while you were editing (a three-way merge).

    `started` is the version your form was drawn from, `latest` the plan's current version and `mine` what
    you submitted. A term you changed keeps your value; a term you did not touch takes the latest version's
    value, so saving again never silently undoes the other person's change. A term both of you changed to
    different values keeps yours and is named in `clashes`, for you to decide.
    """
    before = PlanTerms.from_version(started).as_json()
    now = PlanTerms.from_version(latest).as_json()
    yours = mine.as_json()
    merged: dict[str, Any] = {}
    rows: list[RebaseRow] = []
    clashes: list[str] = []
    for key, label in FIELD_LABELS.items():
        was, theirs, mine_value = (_comparable(key, v[key]) for v in (before, now, yours))
        i_changed, they_changed = mine_value != was, theirs != was
        merged[key] = yours[key] if i_changed else now[key]
        if not (i_changed or they_changed):
            continue
        if i_changed and they_changed and mine_value != theirs:
            change = "both"
            clashes.append(label)
        else:
            change = "yours" if i_changed and not they_changed else "theirs"
        rows.append(
            RebaseRow(label, describe(key, before[key]), describe(key, now[key]), describe(key, merged[key]), change)
        )
    return Rebased(PlanTerms.from_version(merged), rows, clashes)


def checklist_state(plan: dict[str, Any]) -> list[tuple[str, bool]]:
    """The current version's checklist: (item label, done) in the plan's order."""
    done = set(plan.get("progress") or [])
    return [(CHECKLIST.get(item, item), item in done) for item in plan["versions"][-1].get("checklist") or []]


def done_note(plan: dict[str, Any], item: str, zone: str, *, year: bool = False) -> str:
    """When a checklist step was ticked and by whom, in the reader's zone: 'done Thu 03 Dec by you' (with the
    year for a printed record); '' when it is not done."""
    detail = next((d for d in plan.get("progress_detail") or [] if d["item"] == item), None)
    if detail is None:
        return ""
    instant = in_zone(detail["done_at"], zone)
    day = f"{instant:%a %d %b %Y}" if year else f"{instant:%a %d %b}"
    return f"done {day} by {'you' if detail['by_me'] else plan['other_name']}"


def signed_time(value: str, zone: str) -> str:
    """A signature's instant in the reader's zone, in full (a printed record outlives 'Today'):
    'Thu 26 Nov 2026, 18:32'."""
    return f"{in_zone(value, zone):%a %d %b %Y, %H:%M}"


def summary_html(plan: dict[str, Any], my_name: str, zone: str = "UTC") -> str:
    """A printable page with the agreed terms, where the checklist stands, and both signatures, their times in
    the reader's zone (`zone`, an IANA name)."""
    current = plan["versions"][-1]
    names = {"me": my_name, "other": plan["other_name"]}
    items = checklist_state(plan)

    def cell(key: str) -> str:
        if key != "checklist":
            return html.escape(describe(key, current.get(key), year=True))
        if not items:
            return "none"
        planned = current.get("checklist") or []
        return "".join(
            f"<div>{'☑' if done else '☐'} {html.escape(label)} — "
            f"{html.escape(done_note(plan, item, zone, year=True) or 'done') if done else 'not yet'}</div>"
            for item, (label, done) in zip(planned, items, strict=True)
        )

    rows = f"<tr><th>Initiated by</th><td>{html.escape(initiated_by(plan, me=my_name))}</td></tr>" + "".join(
        f"<tr><th>{html.escape(label)}"
        + (f" ({sum(done for _, done in items)} of {len(items)} done)" if key == "checklist" and items else "")
        + f"</th><td>{cell(key)}</td></tr>"
        for key, label in FIELD_LABELS.items()
    )
    signatures = (
        "".join(
            f"<li>{html.escape(names[s['signer']])}, {html.escape(signed_time(s['signed_at'], zone))}</li>"
            for s in current["signatures"]
        )
        or "<li>Not signed yet</li>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Termination plan</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:720px;margin:2rem auto;color:#222}"
        "th{text-align:left;padding:.3rem 1rem .3rem 0;vertical-align:top;width:14rem}td{padding:.3rem 0}"
        "@media print{button{display:none}}</style></head><body>"
        f"<h1>Termination plan</h1><p>Between {html.escape(my_name)} and {html.escape(plan['other_name'])}. "
        f"Status: <strong>{html.escape(plan['status'])}</strong>, version {current['version']}.</p>"
        f"<table>{rows}</table><h2>Signatures on version {current['version']}</h2><ul>{signatures}</ul>"
        f"<p><small>Times in {html.escape(zone)}.</small></p>"
        "<button onclick='window.print()'>Print</button></body></html>"
    )


def referral_candidates(backend: Backend, claims: Claims, engagement_id: str, query: str) -> list[dict[str, Any]]:
    """Portal consultants by name (a plain name search); for the client, `available_to_me` marks who they may see."""
    if len(query.strip()) < 2:
        return []
    return backend.rpc("referral_candidates", {"p_engagement": engagement_id, "p_query": query}, as_user=claims)
