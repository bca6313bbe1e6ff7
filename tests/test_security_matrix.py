"""The security matrix: every table in `public` and `private` and every function in `public`,
as anon, a stranger, the owner, the counterparty and an admin, each cell asserted against the
design written down below. A table or function without a row here fails the suite.

Each test builds its own small world (owner, counterparty, stranger, admin and every kind of
row the owner can have) inside one transaction that is rolled back; each cell runs in its own
savepoint, so no cell sees another's changes. The world is built twice: once with the owner as
the seeker (their profile is private) and once as the consultant (their profile is the public
directory); the counterparty is the other party of the owner's request, engagement,
appointment, waiver and termination plan.

Tables, per operation on the owner's row:
  select  DENIED (42501), HIDDEN (the role runs the query but RLS hides the row), VISIBLE
  insert  DENIED (42501: no privilege, or RLS's WITH CHECK), DONE (a row for the owner was added)
  update  DENIED (42501), NONE (0 rows: RLS hides the row from the change), DONE (1 row)
  delete  as update
Functions: REFUSED (42501, from the grant or raised by the function's own check) or ALLOWED
(success, or a domain or data error such as P0001/PT404/22xxx/23xxx: the role may execute it);
any other error means the function cannot run at all and fails its cells.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

ROLES = ("anon", "stranger", "owner", "counterparty", "admin")
PERSPECTIVES = ("seeker", "consultant")  # what the owner is in the world

DENIED, HIDDEN, VISIBLE, NONE, DONE = "denied", "hidden", "visible", "0 rows", "done"
REFUSED, ALLOWED = "refused", "allowed"


@dataclass(frozen=True)
class Per:
    """An expectation that depends on whether the owner is the seeker or the consultant."""

    seeker: str
    consultant: str


def row(anon, stranger, owner, counterparty, admin) -> dict[str, Any]:
    return dict(zip(ROLES, (anon, stranger, owner, counterparty, admin), strict=True))


def everyone(outcome: str) -> dict[str, str]:
    return row(*(outcome,) * 5)


# --- the design, for tables -------------------------------------------------------------------

ALL_DENIED = everyone(DENIED)
PARTIES_READ = row(DENIED, HIDDEN, VISIBLE, VISIBLE, HIDDEN)  # requests, engagements, ...
OWNER_READS = row(DENIED, HIDDEN, VISIBLE, HIDDEN, HIDDEN)  # declarations, notifications, ...
WITH_PROFILE = row(DENIED, Per(HIDDEN, VISIBLE), VISIBLE, VISIBLE, VISIBLE)  # a seeker's stays private
MEMBERS_READ = row(DENIED, VISIBLE, VISIBLE, VISIBLE, VISIBLE)  # reference data
OWNER_ADDS = row(DENIED, DENIED, DONE, DENIED, DENIED)
OWNER_CHANGES = row(DENIED, NONE, DONE, NONE, NONE)
NOBODY_BUT_OWNER_CHANGES = row(DENIED, NONE, DENIED, NONE, NONE)  # e.g. verifying one's own licence

#: table -> operation -> role -> expected outcome. "extra:*" rows are further column-level checks.
TABLES: dict[str, dict[str, dict[str, Any]]] = {
    "private.credentials": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "private.search_facts": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "private.search_rank": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "private.record_facts_kept": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "private.retired_usernames": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "private.sign_in_failures": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "private.sign_in_sessions": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.profiles": {
        "select": WITH_PROFILE,
        "insert": ALL_DENIED,
        "update": OWNER_CHANGES,
        "delete": ALL_DENIED,
        "extra:set_deleted_at": ALL_DENIED,
    },
    "public.licenses": {
        "select": WITH_PROFILE,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
        "extra:self_verify": NOBODY_BUT_OWNER_CHANGES,
    },
    "public.competencies": {
        "select": WITH_PROFILE,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
        "extra:self_verify": NOBODY_BUT_OWNER_CHANGES,
    },
    "public.availability_settings": {
        "select": WITH_PROFILE,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": ALL_DENIED,
        "extra:read_counters": ALL_DENIED,
        "extra:set_counters": ALL_DENIED,
    },
    "public.weekly_hours": {
        "select": WITH_PROFILE,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
    },
    "public.date_overrides": {
        "select": OWNER_READS,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
    },
    "public.session_locations": {
        "select": OWNER_READS,  # a telehealth link reaches only the invitations of one's own sessions
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
    },
    "public.time_off": {"select": OWNER_READS, "insert": OWNER_ADDS, "update": OWNER_CHANGES, "delete": OWNER_CHANGES},
    "public.affiliations": {
        "select": OWNER_READS,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
    },
    "public.declared_relationships": {
        "select": OWNER_READS,
        "insert": OWNER_ADDS,
        "update": OWNER_CHANGES,
        "delete": OWNER_CHANGES,
    },
    "public.consultation_requests": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.engagements": {"select": PARTIES_READ, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "public.appointments": {"select": PARTIES_READ, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    # Written only through record_attendance; both parties read both statements.
    "public.attendance_statements": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.notifications": {
        "select": OWNER_READS,
        "insert": ALL_DENIED,
        "update": OWNER_CHANGES,
        "delete": ALL_DENIED,
        "extra:rewrite_message": ALL_DENIED,
    },
    # Parties read that a waiver exists and when each signed; never its fingerprint (built from the
    # reasons, so an md5 over one's own clients named the third person) nor the other's rationale.
    "public.conflict_waivers": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
        "extra:read_fingerprint": ALL_DENIED,
        "extra:read_rationales": ALL_DENIED,
    },
    # Which emails a member gets: theirs alone, changed only through save_my_email_preferences.
    "public.email_preferences": {
        "select": OWNER_READS,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    # Emails waiting to go out, written by a trigger on notifications: the sender's alone.
    "private.outbox": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    # A consultant's own calendars (the sealed address) and their busy times: only through the functions, the
    # owner reading the address masked (issue 27).
    "private.consultant_calendars": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "private.calendar_busy": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    # Sign-up and reset requests and their links (token digests): only the server's functions read them.
    "private.account_links": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    # What a request's matched screening found: read only through the pair's check.
    "private.request_screenings": {
        "select": ALL_DENIED,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    # How many times, per day, one member reached another (the flood caps): only the caps' triggers write them.
    "private.pair_deliveries": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "public.screening_log": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    # Who waits for a consultant with no room: the seeker alone reads it (the consultant reads a count through
    # my_waitlist_count); written only through join_waitlist, renew_my_wait and leave_waitlist.
    "public.waitlist": {
        "select": row(DENIED, HIDDEN, Per(VISIBLE, HIDDEN), Per(HIDDEN, VISIBLE), HIDDEN),
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.audit_log": {"select": ALL_DENIED, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "public.termination_plans": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.termination_plan_versions": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.termination_signatures": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.termination_checklist_progress": {
        "select": PARTIES_READ,
        "insert": ALL_DENIED,
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.jurisdictions": {"select": MEMBERS_READ, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "public.languages": {"select": MEMBERS_READ, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
    "public.modalities": {
        "select": MEMBERS_READ,
        "insert": row(DENIED, DENIED, DENIED, DENIED, DONE),
        "update": ALL_DENIED,
        "delete": ALL_DENIED,
    },
    "public.conflict_rules": {"select": MEMBERS_READ, "insert": ALL_DENIED, "update": ALL_DENIED, "delete": ALL_DENIED},
}


@dataclass(frozen=True)
class TableSQL:
    """How each cell touches the owner's row. `%(name)s` are the world's ids."""

    key: str  # identifies the owner's row
    insert: str  # adds a row for the owner (valid when permitted)
    set_clause: str  # a harmless change to the owner's row, on a column members may write
    setup: dict[str, str] = field(default_factory=dict)  # per operation, run as superuser first
    extra: dict[str, str] = field(default_factory=dict)  # "extra:*" statements


TABLE_SQL: dict[str, TableSQL] = {
    "private.search_facts": TableSQL(
        "consultant_id = %(consultant)s",
        "insert into private.search_facts (consultant_id, display_name, jurisdictions, offers_telehealth, "
        "offers_in_person, languages, sliding_scale, open_to_new, time_buckets, experience_score, valid_until) "
        "values (%(fresh_profile)s, 'Forged', '{NY}', true, false, '{en}', false, true, 15, 20, 'infinity')",
        "experience_score = 20",
    ),
    "private.record_facts_kept": TableSQL(
        "member_id = %(owner)s and side = 'client'",
        "insert into private.record_facts_kept (member_id, side, facts) "
        "values (%(owner)s, 'consultant', '{\"enough_events\": true}')",
        "facts = facts",
    ),
    "private.search_rank": TableSQL(
        "(jurisdiction, modality, consultant_id) = (select r.jurisdiction, r.modality, r.consultant_id "
        "from private.search_rank r order by 1, 2, 3 limit 1)",  # any one entry: nobody but the owner reads them
        "insert into private.search_rank (jurisdiction, modality, bound, consultant_id) "
        "values ('NY', '', 1000, %(fresh_profile)s)",
        "bound = 1000",
    ),
    "private.retired_usernames": TableSQL(
        "username = 'matrix_retired'",
        "insert into private.retired_usernames (username) values ('intruder_retires_someone')",
        "retired_at = retired_at",
    ),
    "private.sign_in_failures": TableSQL(
        "username = 'matrix_failing'",
        "insert into private.sign_in_failures (username, failed_attempts) values ('intruder_counts', 1)",
        "failed_attempts = 0",
    ),
    "private.sign_in_sessions": TableSQL(
        "user_id = %(owner)s",
        "insert into private.sign_in_sessions (user_id, expires_at) values (%(owner)s, now() + interval '1 day')",
        "expires_at = expires_at",
    ),
    "private.credentials": TableSQL(
        "user_id = %(owner)s",
        "insert into private.credentials (user_id, username, email, password_hash) "
        "values (%(fresh_profile)s, 'intruder_x', 'intruder@x.example', '$2b$12$x')",
        "failed_attempts = 0",
        setup={"insert": "insert into public.profiles (id, display_name) values (%(fresh_profile)s, 'Fresh')"},
    ),
    "public.profiles": TableSQL(
        "id = %(owner)s",
        "insert into public.profiles (display_name) values ('Intruder')",
        "display_name = display_name",
        extra={"extra:set_deleted_at": "update public.profiles set deleted_at = now() where id = %(owner)s"},
    ),
    "public.licenses": TableSQL(
        "id = %(licence)s",
        "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
        "values (%(owner)s, 'LCSW', 'WY-77', 'WY', '2031-01-01')",
        "license_type = license_type",
        extra={
            "extra:self_verify": "update public.licenses set verification_status = 'verified', "
            "verified_at = now() where id = %(licence)s"
        },
    ),
    "public.competencies": TableSQL(
        "id = %(competency)s",
        "insert into public.competencies (consultant_id, modality, level) values (%(owner)s, 'dbt', 2)",
        "level = level",
        extra={
            "extra:self_verify": "update public.competencies set verification_status = 'verified', "
            "verified_at = now() where id = %(competency)s"
        },
    ),
    "public.availability_settings": TableSQL(
        "consultant_id = %(owner)s",
        "insert into public.availability_settings (consultant_id) values (%(owner)s)",
        "capacity = capacity",
        setup={"insert": "delete from public.availability_settings where consultant_id = %(owner)s"},
        extra={
            "extra:read_counters": "select active_clients, clients_served from public.availability_settings "
            "where consultant_id = %(owner)s",
            "extra:set_counters": "update public.availability_settings set active_clients = 0 "
            "where consultant_id = %(owner)s",
        },
    ),
    "public.weekly_hours": TableSQL(
        "id = %(hours)s",
        "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
        "values (%(owner)s, 2, '09:00', '10:00')",
        "ends_at = ends_at",
    ),
    "public.date_overrides": TableSQL(
        "id = %(override)s",
        "insert into public.date_overrides (consultant_id, on_date) values (%(owner)s, current_date + 20)",
        "on_date = on_date",
    ),
    "public.session_locations": TableSQL(
        "consultant_id = %(owner)s",
        "insert into public.session_locations (consultant_id, location) values (%(owner)s, 'https://meet.example/x')",
        "location = location",
        setup={"insert": "delete from public.session_locations where consultant_id = %(owner)s"},
    ),
    "public.time_off": TableSQL(
        "id = %(time_off)s",
        "insert into public.time_off (consultant_id, starts_on, ends_on) "
        "values (%(owner)s, current_date + 40, current_date + 41)",
        "note = note",
    ),
    "public.affiliations": TableSQL(
        "id = %(affiliation)s",
        "insert into public.affiliations (member_id, organisation, kind) values (%(owner)s, 'Intruder Clinic', "
        "'practice')",
        "role = role",
    ),
    "public.declared_relationships": TableSQL(
        "id = %(relationship)s",
        "insert into public.declared_relationships (declarer_id, counterpart_name, kind) "
        "values (%(owner)s, 'Someone Else', 'friend')",
        "counterpart_name = counterpart_name",
    ),
    "public.consultation_requests": TableSQL(
        "id = %(request)s",
        "insert into public.consultation_requests (seeker_id, consultant_id, message) "
        "values (%(seeker)s, %(consultant)s, 'Forged')",
        "message = message",
    ),
    "public.engagements": TableSQL(
        "id = %(engagement)s",
        "insert into public.engagements (request_id, seeker_id, consultant_id) "
        "values (%(request)s, %(seeker)s, %(consultant)s)",
        "status = status",
    ),
    "public.appointments": TableSQL(
        "id = %(appointment)s",
        "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
        "blocked_until, requested_by) values (%(consultant)s, %(seeker)s, %(engagement)s, now() + interval '30 days', "
        "now() + interval '30 days 50 minutes', now() + interval '30 days 1 hour', %(owner)s)",
        "cancel_reason = cancel_reason",
    ),
    "public.notifications": TableSQL(
        "id = %(notification)s",
        "insert into public.notifications (user_id, kind, message) values (%(owner)s, 'forged', 'Forged')",
        "read_at = now()",
        extra={
            "extra:rewrite_message": "update public.notifications set message = 'Forged' where id = %(notification)s"
        },
    ),
    "public.email_preferences": TableSQL(
        "member_id = %(owner)s",
        "insert into public.email_preferences (member_id) values (%(fresh_profile)s)",
        "summary = true",
    ),
    "public.conflict_waivers": TableSQL(
        "id = %(waiver)s",
        "insert into public.conflict_waivers (seeker_id, consultant_id, fingerprint) "
        "values (%(seeker)s, %(consultant)s, 'forged')",
        "seeker_signed_at = seeker_signed_at",
        extra={
            "extra:read_fingerprint": "select fingerprint from public.conflict_waivers where id = %(waiver)s",
            "extra:read_rationales": "select seeker_rationale, consultant_rationale from public.conflict_waivers "
            "where id = %(waiver)s",
        },
    ),
    "private.outbox": TableSQL(
        "notification_id = %(notification)s",
        "insert into private.outbox (recipient_id, kind, message) values (%(owner)s, 'forged', 'Forged')",
        "status = status",
    ),
    "private.consultant_calendars": TableSQL(
        "id = %(calendar)s",
        "insert into private.consultant_calendars (consultant_id, kind, label, sealed_secret, masked_secret) "
        "values (%(owner)s, 'ics_url', 'Forged', 'sealed', 'masked')",
        "label = label",
    ),
    "private.calendar_busy": TableSQL(
        "calendar_id = %(calendar)s",
        "insert into private.calendar_busy (calendar_id, consultant_id, busy) "
        "values (%(calendar)s, %(owner)s, tstzrange(now(), now() + interval '1 hour'))",
        "busy = busy",
    ),
    "private.account_links": TableSQL(
        "user_id = %(owner)s",
        "insert into private.account_links (kind, email, user_id) values ('reset', 'forged@x.example', %(owner)s)",
        "status = status",
    ),
    "private.request_screenings": TableSQL(
        "request_id = %(request)s",
        "insert into private.request_screenings (request_id, seeker_id, consultant_id) "
        "values (%(request)s, %(seeker)s, %(consultant)s)",
        "reasons = reasons",
    ),
    "private.pair_deliveries": TableSQL(
        "sender = %(owner)s",
        "insert into private.pair_deliveries (sender, recipient, what, on_day) "
        "values (%(owner)s, %(consultant)s, 'notices', current_date)",
        "actions = 0",
    ),
    "public.screening_log": TableSQL(
        "id = %(screening)s",
        "insert into public.screening_log (checked_by, seeker_id, consultant_id, context, level) "
        "values (%(owner)s, %(seeker)s, %(consultant)s, 'on_demand', 'none')",
        "level = level",
    ),
    "public.waitlist": TableSQL(
        "id = %(wait)s",
        "insert into public.waitlist (seeker_id, consultant_id) values (%(seeker)s, %(stranger)s)",
        "expires_at = expires_at",
    ),
    "public.audit_log": TableSQL(
        "id = %(audit)s",
        "insert into public.audit_log (actor_id, action) values (%(owner)s, 'forged')",
        "action = action",
    ),
    "public.attendance_statements": TableSQL(
        "appointment_id = %(appointment)s and party_id = %(owner)s",
        "insert into public.attendance_statements (appointment_id, party_id, outcome) "
        "values (%(appointment)s, %(counterparty)s, 'client_absent')",
        "outcome = outcome",
    ),
    "public.termination_plans": TableSQL(
        "id = %(plan)s",
        "insert into public.termination_plans (engagement_id, seeker_id, consultant_id, created_by, status) "
        "values (%(engagement)s, %(seeker)s, %(consultant)s, %(owner)s, 'withdrawn')",
        "status = status",
    ),
    "public.termination_plan_versions": TableSQL(
        "plan_id = %(plan)s and version = 1",
        "insert into public.termination_plan_versions (plan_id, version, author_id, initiated_by, reason, "
        "discussed_on, final_session_on, sessions_remaining, closing_sessions) "
        "values (%(plan)s, 2, %(owner)s, 'client', 'goals_met', current_date, current_date + 30, 3, 1)",
        "reason_notes = reason_notes",
    ),
    "public.termination_signatures": TableSQL(
        "plan_id = %(plan)s and version = 1 and signer_id = %(owner)s",
        "insert into public.termination_signatures (plan_id, version, signer_id) "
        "values (%(plan)s, 1, %(counterparty)s)",
        "signed_at = signed_at",
    ),
    "public.termination_checklist_progress": TableSQL(
        "plan_id = %(plan)s and item = 'pre_termination_discussion'",
        "insert into public.termination_checklist_progress (plan_id, item, done_by) "
        "values (%(plan)s, 'summary_shared', %(owner)s)",
        "done_at = done_at",
    ),
    "public.jurisdictions": TableSQL(
        "code = 'NY'",
        "insert into public.jurisdictions (code, name, country) values ('ZZ', 'Zed', 'US')",
        "name = name",
    ),
    "public.languages": TableSQL(
        "code = 'en'", "insert into public.languages (code, name) values ('zz', 'Zed')", "name = name"
    ),
    "public.modalities": TableSQL(
        "code = 'cbt'",
        "insert into public.modalities (code, name) values ('matrix_test', 'Matrix test')",
        "name = name",
    ),
    "public.conflict_rules": TableSQL(
        "kind = 'friend'",
        "insert into public.conflict_rules (kind, label, severity, window_years, waivable) "
        "values ('matrix_test', 'matrix', 'potential', 1, true)",
        "label = label",
    ),
}


# --- the design, for functions ----------------------------------------------------------------

MEMBERS = row(REFUSED, ALLOWED, ALLOWED, ALLOWED, ALLOWED)
ADMINS = row(REFUSED, REFUSED, REFUSED, REFUSED, ALLOWED)
NOBODY = everyone(REFUSED)  # the server's sign-in functions (service_role) and internal seams


@dataclass(frozen=True)
class Fn:
    """Who may execute a function, and plausible arguments for the call.

    Argument values starting with "@" are the world's ids; "@peer" is the owner, or the
    counterparty when the caller is the owner.
    """

    expect: dict[str, Any]
    args: dict[str, Any] = field(default_factory=dict)


IN_A_WEEK = "@in_a_week"
TERMS = {
    "initiated_by": "client",
    "reason": "goals_met",
    "discussed_on": "2030-01-01",
    "final_session_on": "2030-02-01",
    "sessions_remaining": 3,
    "closing_sessions": 1,
}

FUNCTIONS: dict[str, Fn] = {
    # reference data and helpers
    "list_jurisdictions": Fn(MEMBERS),
    "list_languages": Fn(MEMBERS),
    "list_modalities": Fn(MEMBERS),
    "list_conflict_rules": Fn(MEMBERS),
    "is_admin": Fn(MEMBERS),
    "is_iana_timezone": Fn(MEMBERS, {"tz": "Europe/Paris"}),
    "display_name_problem": Fn(MEMBERS, {"p_name": "Zoë O’Brien"}),  # the name rule, stated once; reads nothing
    "normalise_organisation": Fn(MEMBERS, {"p_name": "St. Mary's Hospital"}),
    # my profile, practice, availability, declarations, data
    "get_my_profile": Fn(MEMBERS),
    "my_calendar_entries": Fn(MEMBERS),
    "get_my_session_location": Fn(MEMBERS),
    # Issue 27: a consultant's own calendars (a non-consultant is told with a sentence), and the sender's doors.
    "my_calendars": Fn(MEMBERS),
    "add_my_calendar": Fn(
        MEMBERS, {"p_kind": "ics_url", "p_label": "Home", "p_sealed_secret": "sealed", "p_masked_secret": "https://…"}
    ),
    "remove_my_calendar": Fn(MEMBERS, {"p_calendar": "00000000-0000-0000-0000-000000000000"}),
    "my_busy_times": Fn(MEMBERS, {"p_from": "2030-01-07T00:00:00Z", "p_to": "2030-01-14T00:00:00Z"}),
    "calendars_due": Fn(NOBODY, {"p_consultant": "@owner"}),
    "calendar_reading_done": Fn(NOBODY, {"p_calendar": "00000000-0000-0000-0000-000000000000", "p_busy": []}),
    "calendar_sessions": Fn(NOBODY, {"p_calendar": "00000000-0000-0000-0000-000000000000"}),
    "save_my_session_location": Fn(MEMBERS, {"p_location": "Room 4, 12 Main St"}),
    "set_my_home_jurisdiction": Fn(MEMBERS, {"p_jurisdiction": "NY"}),
    "save_my_profile": Fn(
        MEMBERS,
        {
            "p_profile": {
                "display_name": "Matrix Member",
                "languages": ["en"],
                "offers_telehealth": True,
                "timezone": "America/New_York",
            },
            "p_licenses": [],
            "p_expected_version": 1,
        },
    ),
    "profile_document": Fn(MEMBERS, {"p_id": "@owner"}),
    "get_my_practice": Fn(MEMBERS),
    "save_my_practice": Fn(
        MEMBERS, {"p_competencies": [], "p_accepting": True, "p_capacity": 5, "p_expected_version": 1}
    ),
    "consultant_can_take_requests": Fn(MEMBERS, {"p_consultant": "@consultant"}),
    "get_my_availability": Fn(MEMBERS),
    "save_my_availability": Fn(
        MEMBERS,
        {
            "p_settings": {
                "session_minutes": 50,
                "buffer_minutes": 10,
                "min_notice_hours": 24,
                "late_cancel_hours": 24,
            },
            "p_weekly_hours": [],
            "p_overrides": [],
            "p_time_off": [],
            "p_expected_version": 1,
        },
    ),
    "get_my_declarations": Fn(MEMBERS),
    "add_my_affiliation": Fn(MEMBERS, {"p_organisation": "Matrix Clinic", "p_kind": "practice"}),
    "add_my_relationship": Fn(MEMBERS, {"p_kind": "friend", "p_counterpart_name": "Someone Else"}),
    "remove_my_declaration": Fn(MEMBERS, {"p_id": "@affiliation"}),
    "my_home": Fn(MEMBERS),
    "export_my_data": Fn(MEMBERS),
    "delete_my_account": Fn(MEMBERS, {"p_confirm_username": "not-my-username"}),
    "my_notifications": Fn(MEMBERS),
    "get_my_email_preferences": Fn(MEMBERS),
    "save_my_email_preferences": Fn(MEMBERS, {"p_muted": ["account"], "p_summary": False}),
    "unread_notification_count": Fn(MEMBERS),
    "mark_notifications_read": Fn(MEMBERS, {"p_ids": ["@notification"]}),
    # finding and asking
    "search_consultants": Fn(MEMBERS, {"p_jurisdiction": "NY"}),
    "find_consultants": Fn(MEMBERS, {"p_query": "Matrix"}),
    "get_consultant_profile": Fn(MEMBERS, {"p_consultant": "@peer"}),
    "request_consultation": Fn(MEMBERS, {"p_consultant": "@peer", "p_modalities": [], "p_message": "Hello"}),
    "respond_to_request": Fn(MEMBERS, {"p_request": "@request", "p_accept": False, "p_reason": "No room"}),
    "my_requests": Fn(MEMBERS),
    "my_engagements": Fn(MEMBERS),
    # the waitlist: a seeker's own waits; a consultant's count of them
    "join_waitlist": Fn(MEMBERS, {"p_consultant": "@stranger"}),
    "renew_my_wait": Fn(MEMBERS, {"p_consultant": "@consultant"}),
    "leave_waitlist": Fn(MEMBERS, {"p_consultant": "@consultant"}),
    "my_waits": Fn(MEMBERS),
    "my_waitlist_count": Fn(MEMBERS),
    # screening
    "check_conflicts": Fn(MEMBERS, {"p_other": "@peer"}),
    "sign_waiver": Fn(MEMBERS, {"p_other": "@peer", "p_rationale": "We discussed it and agreed on boundaries."}),
    "my_screening_log": Fn(MEMBERS),
    "screen_candidates": Fn(NOBODY, {"p_seeker": "@seeker", "p_consultants": ["@consultant"], "p_context": None}),
    "search_relaxations": Fn(
        NOBODY,
        {
            "p_me": "@owner",
            "p_jurisdiction": "NY",
            "p_modalities": [],
            "p_min_level": 1,
            "p_format": "any",
            "p_city": None,
            "p_languages": [],
            "p_max_fee": None,
            "p_sliding_ok": False,
            "p_accepting_only": True,
            "p_times": 0,
        },
    ),
    # booking
    "open_slots": Fn(MEMBERS, {"p_consultant": "@consultant", "p_from": "@today", "p_to": "@in_a_week_date"}),
    "cancellation_policy": Fn(MEMBERS, {"p_consultant": "@consultant"}),
    # Only the parties of an engagement (or a seeker with a pending request) book.
    "book_appointment": Fn(
        row(REFUSED, REFUSED, ALLOWED, ALLOWED, REFUSED), {"p_other": "@peer", "p_starts_at": IN_A_WEEK}
    ),
    "respond_to_appointment": Fn(MEMBERS, {"p_appointment": "@appointment", "p_confirm": True}),
    "cancel_appointment": Fn(MEMBERS, {"p_appointment": "@appointment", "p_reason": "Matrix"}),
    "reschedule_appointment": Fn(
        MEMBERS, {"p_appointment": "@appointment", "p_new_starts_at": IN_A_WEEK, "p_reason": "Matrix"}
    ),
    # Only the appointment's consultant marks it kept or missed.
    "mark_appointment": Fn(
        row(REFUSED, REFUSED, Per(REFUSED, ALLOWED), Per(ALLOWED, REFUSED), REFUSED),
        {"p_appointment": "@appointment", "p_outcome": "completed"},
    ),
    "my_appointments": Fn(MEMBERS),
    # Consultants' records resting on 5+ events are public to members (search cards).
    "consultant_records": Fn(MEMBERS, {"p_consultants": ["@consultant", "@stranger"]}),
    # A seeker's record: themselves alone (not even their consultant, issue 12); a consultant's: everyone. Anyone
    # else asking for a seeker's record reads "No such member." (PT404), as for an unknown id (issue 16, item 12:
    # 403 against 404 told whether an id was a seeker's), which this matrix counts as executable; the rule itself is
    # held by tests/test_booking.py and tests/test_bounds_and_notes.py.
    "professionalism_record": Fn(MEMBERS, {"p_member": "@peer"}),
    # Either party says what happened (anyone else reads "No such appointment", PT404; test_booking has the rest).
    "record_attendance": Fn(MEMBERS, {"p_appointment": "@appointment", "p_outcome": "held"}),
    "admin_outbox": Fn(ADMINS, {"p_limit": 5}),
    "admin_close_account": Fn(ADMINS, {"p_user": "@stranger", "p_reason": "Licence suspended by the state board."}),
    "admin_closure_preview": Fn(ADMINS, {"p_member": "@stranger"}),
    "admin_disputed_sessions": Fn(ADMINS),
    "admin_resolve_attendance": Fn(
        ADMINS, {"p_appointment": "@appointment", "p_outcome": "held", "p_note": "Both agreed on a call."}
    ),
    # termination plans
    "start_termination_plan": Fn(MEMBERS, {"p_engagement": "@engagement", "p_terms": TERMS}),
    "revise_termination_plan": Fn(MEMBERS, {"p_plan": "@plan", "p_terms": TERMS, "p_expected_version": 1}),
    "propose_termination_plan": Fn(MEMBERS, {"p_plan": "@plan", "p_expected_version": 1}),
    "sign_termination_plan": Fn(MEMBERS, {"p_plan": "@plan", "p_version": 1}),
    "complete_termination_plan": Fn(MEMBERS, {"p_plan": "@plan"}),
    "withdraw_termination_plan": Fn(MEMBERS, {"p_plan": "@plan", "p_reason": "Matrix"}),
    "tick_termination_checklist": Fn(MEMBERS, {"p_plan": "@plan", "p_item": "summary_shared", "p_done": True}),
    "my_termination_plans": Fn(MEMBERS),
    "termination_policy": Fn(MEMBERS),  # the guardrails, the same for every member
    "refresh_termination_reminders": Fn(MEMBERS),
    "referral_candidates": Fn(MEMBERS, {"p_engagement": "@engagement", "p_query": "Matrix"}),
    # admin
    "admin_list_accounts": Fn(ADMINS),
    "admin_unlock_account": Fn(ADMINS, {"p_user_id": "@owner"}),
    "admin_verification_queue": Fn(ADMINS),
    "admin_verify_credential": Fn(ADMINS, {"p_kind": "license", "p_id": "@licence", "p_approve": True}),
    "admin_add_modality": Fn(ADMINS, {"p_code": "matrix_test", "p_name": "Matrix test"}),
    "admin_update_conflict_rule": Fn(
        ADMINS, {"p_kind": "friend", "p_severity": "potential", "p_window_years": 2, "p_waivable": True}
    ),
    # sign-in support: the portal's server only (service_role)
    "auth_get_login": Fn(NOBODY, {"p_username": "seeker01"}),
    # The sender's calls (service role): no member claims or settles a row of the outbox.
    "outbox_claim": Fn(NOBODY, {"p_limit": 1}),
    "write_due_reminders": Fn(NOBODY),  # the sender's sweep of reminders due to members who are away
    # Sign-up and reset by link: the app's server and the sender only (service_role).
    "auth_request_registration": Fn(
        NOBODY,
        {
            "p_username": "matrix_y",
            "p_email": "matrix_y@x.example",
            "p_display_name": "Matrix",
            "p_password_hash": "$2b$12$x",
            "p_client": "198.51.100.7",
        },
    ),
    "auth_request_password_reset": Fn(NOBODY, {"p_identifier": "seeker01"}),
    "auth_cancel_registration": Fn(NOBODY, {"p_token_hash": "0" * 64}),
    "account_links_claim": Fn(NOBODY, {"p_limit": 1}),
    "account_link_arm": Fn(NOBODY, {"p_id": 1, "p_token_hash": "0" * 64}),
    "account_links_settle": Fn(NOBODY, {"p_id": 1, "p_outcome": "sent"}),
    "auth_link_state": Fn(NOBODY, {"p_token_hash": "0" * 64}),
    "auth_redeem_verification": Fn(NOBODY, {"p_token_hash": "0" * 64}),
    "auth_reset_password_by_link": Fn(NOBODY, {"p_token_hash": "0" * 64, "p_password_hash": "$2b$12$x"}),
    # A member's own address and its verification link.
    "my_email_verification": Fn(MEMBERS),
    "request_my_email_verification": Fn(MEMBERS),
    "portal_has_accounts": Fn(NOBODY),
    "outbox_settle": Fn(NOBODY, {"p_id": 1, "p_outcome": "sent"}),
    "auth_register": Fn(
        NOBODY,
        {
            "p_username": "matrix_x",
            "p_email": "matrix@x.example",
            "p_display_name": "Matrix",
            "p_password_hash": "$2b$12$x",
        },
    ),
    "auth_record_failed_login": Fn(NOBODY, {"p_username": "seeker01"}),
    "auth_clear_failed_logins": Fn(NOBODY, {"p_username": "seeker01"}),
    "auth_record_successful_login": Fn(NOBODY, {"p_username": "seeker01"}),
    "auth_set_password_hash": Fn(NOBODY, {"p_username": "seeker01", "p_password_hash": "$2b$12$x"}),
    "auth_sign_in_record": Fn(NOBODY, {"p_username": "seeker01"}),
    "auth_session_alive": Fn(NOBODY, {"p_session": "@fresh_profile", "p_user": "@owner", "p_username": "seeker01"}),
    "auth_close_session": Fn(NOBODY, {"p_session": "@fresh_profile", "p_user": "@owner"}),
    "auth_close_all_sessions": Fn(NOBODY, {"p_user": "@owner"}),
}


# --- the world --------------------------------------------------------------------------------


class World:
    """Owner, counterparty, stranger and admin, and every kind of row the owner can have."""

    def __init__(self, conn: psycopg.Connection, owner_is: str) -> None:
        self.conn = conn
        self.owner_is = owner_is
        self.superuser()
        owner = self.member("Olive Owner", consultant=owner_is == "consultant")
        counterparty = self.member("Cody Counterparty", consultant=owner_is == "seeker")
        stranger = self.member("Stella Stranger", consultant=True)
        admin = self.member("Ada Admin", consultant=False, admin=True)
        seeker, consultant = (owner, counterparty) if owner_is == "seeker" else (counterparty, owner)
        ids = {
            "owner": owner,
            "counterparty": counterparty,
            "stranger": stranger,
            "admin": admin,
            "seeker": seeker,
            "consultant": consultant,
            "fresh_profile": str(uuid.uuid4()),
        }
        q = self.scalar
        q("insert into public.session_locations (consultant_id, location) values (%s, 'Room 4') returning 1", owner)
        ids["calendar"] = q(
            "insert into private.consultant_calendars (consultant_id, kind, label, sealed_secret, masked_secret) "
            "values (%s, 'ics_url', 'Home', 'sealed', 'https://…') returning id",
            owner,
        )
        q(
            "insert into private.calendar_busy (calendar_id, consultant_id, busy) "
            "values (%s, %s, tstzrange('2031-01-01 10:00+00', '2031-01-01 11:00+00')) returning 1",
            ids["calendar"],
            owner,
        )
        ids["licence"] = q(
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, "
            "expires_on) values (%s, 'LCSW', 'NY-1', 'NY', '2031-01-01') returning id",
            owner,
        )
        ids["competency"] = q(
            "insert into public.competencies (consultant_id, modality, level) values (%s, 'cbt', 3) returning id", owner
        )
        ids["hours"] = q(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "values (%s, 1, '09:00', '12:00') returning id",
            owner,
        )
        ids["override"] = q(
            "insert into public.date_overrides (consultant_id, on_date, starts_at, ends_at) "
            "values (%s, current_date + 10, '10:00', '11:00') returning id",
            owner,
        )
        ids["time_off"] = q(
            "insert into public.time_off (consultant_id, starts_on, ends_on, note) "
            "values (%s, current_date + 60, current_date + 61, 'away') returning id",
            owner,
        )
        ids["affiliation"] = q(
            "insert into public.affiliations (member_id, organisation, kind) "
            "values (%s, 'Owner Clinic', 'practice') returning id",
            owner,
        )
        ids["relationship"] = q(
            "insert into public.declared_relationships (declarer_id, counterpart_id, kind, "
            "ends_on) values (%s, %s, 'colleague', current_date - 3650) returning id",
            owner,
            counterparty,
        )
        ids["request"] = q(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status, "
            "responded_at) values (%s, %s, 'Hello', 'accepted', now()) returning id",
            seeker,
            consultant,
        )
        self.conn.execute("select private.take_request_screening(%s)", (ids["request"],))
        ids["engagement"] = q(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s) returning id",
            ids["request"],
            seeker,
            consultant,
        )
        ids["appointment"] = q(
            "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
            "blocked_until, status, requested_by) values (%s, %s, %s, date_trunc('hour', now()) + interval '9 days', "
            "date_trunc('hour', now()) + interval '9 days 50 minutes', "
            "date_trunc('hour', now()) + interval '9 days 1 hour', 'confirmed', %s) returning id",
            consultant,
            seeker,
            ids["engagement"],
            seeker,
        )
        self.conn.execute(
            "insert into private.retired_usernames (username) values ('matrix_retired') on conflict do nothing"
        )
        self.conn.execute(
            "insert into private.sign_in_failures (username, failed_attempts) "
            "values ('matrix_failing', 2) on conflict do nothing"
        )
        self.conn.execute(
            "insert into private.sign_in_sessions (user_id, expires_at) values (%s, now() + interval '1 day')", (owner,)
        )
        self.conn.execute(
            "insert into public.attendance_statements (appointment_id, party_id, outcome) values (%s, %s, 'held')",
            (ids["appointment"], owner),
        )
        self.conn.execute("insert into public.email_preferences (member_id) values (%s)", (owner,))
        self.conn.execute(
            "insert into private.account_links (kind, email, user_id) "
            "values ('verify_email', 'matrix_owner@x.example', %s)",
            (owner,),
        )
        ids["notification"] = q(
            "insert into public.notifications (user_id, kind, message) "
            "values (%s, 'matrix', 'For the owner') returning id",
            owner,
        )
        ids["waiver"] = q(
            "insert into public.conflict_waivers (seeker_id, consultant_id, fingerprint, "
            "seeker_rationale, seeker_signed_at) values (%s, %s, 'matrix', "
            "'We discussed it at length and agreed.', now()) returning id",
            seeker,
            consultant,
        )
        ids["screening"] = q(
            "insert into public.screening_log (checked_by, seeker_id, consultant_id, context, level) "
            "values (%s, %s, %s, 'on_demand', 'none') returning id",
            owner,
            seeker,
            consultant,
        )
        ids["wait"] = q(
            "insert into public.waitlist (seeker_id, consultant_id) values (%s, %s) returning id", seeker, consultant
        )
        ids["audit"] = q("insert into public.audit_log (actor_id, action) values (%s, 'matrix') returning id", owner)
        ids["plan"] = q(
            "insert into public.termination_plans (engagement_id, seeker_id, consultant_id, status, "
            "created_by) values (%s, %s, %s, 'proposed', %s) returning id",
            ids["engagement"],
            seeker,
            consultant,
            owner,
        )
        self.conn.execute(
            "insert into public.termination_plan_versions (plan_id, version, author_id, initiated_by, reason, "
            "discussed_on, final_session_on, sessions_remaining, closing_sessions, referrals) "
            "values (%s, 1, %s, 'client', 'goals_met', current_date, current_date + 30, 3, 1, "
            '\'[{"name": "Dr. Referral"}]\')',
            (ids["plan"], owner),
        )
        self.conn.execute(
            "insert into public.termination_signatures (plan_id, version, signer_id) values (%s, 1, %s)",
            (ids["plan"], owner),
        )
        self.conn.execute(
            "insert into public.termination_checklist_progress (plan_id, item, done_by) "
            "values (%s, 'pre_termination_discussion', %s)",
            (ids["plan"], owner),
        )
        # The owner's kept record facts, as the triggers keep them for a member with something on record.
        self.conn.execute(
            "insert into private.record_facts_kept (member_id, side, facts) "
            "values (%s, 'client', private.record_facts(%s, 'client')) on conflict do nothing",
            (owner, owner),
        )
        week = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
        ids.update({"today": datetime.now(UTC).date(), "in_a_week_date": week.date(), "in_a_week": week})
        self.ids = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in ids.items()}

    def scalar(self, statement: str, *params) -> str:
        return str(self.conn.execute(statement, params).fetchone()[0])

    def member(self, name: str, *, consultant: bool, admin: bool = False) -> str:
        pid = str(uuid.uuid4())
        self.conn.execute(
            "insert into public.profiles (id, display_name, is_consultant, fee_usd) values (%s, %s, %s, 100)",
            (pid, name, consultant),
        )
        self.conn.execute(
            "insert into private.credentials (user_id, username, email, password_hash, is_admin) "
            "values (%s, %s, %s, '$2b$12$x', %s)",
            (pid, f"m{pid[:12]}", f"{pid[:8]}@matrix.example", admin),
        )
        return pid

    def superuser(self) -> None:
        self.conn.execute("set local role none")  # back to the connection's own superuser
        self.conn.execute("select set_config('request.jwt.claims', '', true)")

    def act_as(self, who: str) -> None:
        if who == "anon":
            role, claims = "anon", {"role": "anon"}
        else:
            role, claims = "portal_member", {"sub": self.ids[who], "role": "portal_member", "aud": "authenticated"}
        self.conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims)),
        )

    def run(
        self, who: str, statement: str, params: dict[str, Any] | None = None, setup: str | None = None
    ) -> tuple[str, Any]:
        """Run one statement as `who` in a savepoint that is always rolled back.

        Returns ("ok", (rowcount, rows or None)) or ("error", (sqlstate, first line of the message)).
        """
        outcome: tuple[str, Any]
        with self.conn.transaction(force_rollback=True):
            self.superuser()
            if setup:
                self.conn.execute(setup, self.ids)
            self.act_as(who)
            try:
                with self.conn.transaction():
                    cursor = self.conn.execute(statement, self.ids if params is None else params)
                    outcome = ("ok", (cursor.rowcount, cursor.fetchall() if cursor.description else None))
            except psycopg.Error as exc:
                outcome = ("error", (exc.sqlstate, (exc.diag.message_primary or str(exc)).splitlines()[0]))
        self.superuser()
        return outcome


@pytest.fixture(params=PERSPECTIVES, ids=lambda p: f"owner_is_{p}")
def world(request, embedded_db):
    with psycopg.connect(embedded_db.conninfo("postgres")) as conn:
        world = World(conn, request.param)
        conn.execute("select private.refresh_pending_search_facts()")  # the search facts, as a commit would
        yield world
        conn.rollback()


def expected_for(expect: dict[str, Any], who: str, owner_is: str) -> str:
    value = expect[who]
    return getattr(value, owner_is) if isinstance(value, Per) else value


def table_outcome(op: str, result: tuple[str, Any]) -> str:
    kind, detail = result
    if kind == "error":
        return DENIED if detail[0] == "42501" else f"error {detail[0]}: {detail[1]}"
    rowcount, rows = detail
    if op == "select":
        return VISIBLE if rows and rows[0][0] else HIDDEN
    if op.startswith("extra:") and rows is not None:
        return VISIBLE if rows else HIDDEN
    if op == "insert":
        return DONE if rowcount == 1 else f"{rowcount} rows"
    return {0: NONE, 1: DONE}.get(rowcount, f"{rowcount} rows")


def table_statements(table: str) -> dict[str, str]:
    spec = TABLE_SQL[table]
    return {
        "select": f"select count(*) from {table} where {spec.key}",
        "insert": spec.insert,
        "update": f"update {table} set {spec.set_clause} where {spec.key}",
        "delete": f"delete from {table} where {spec.key}",
        **spec.extra,
    }


# --- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_matrix(world, table):
    statements = table_statements(table)
    assert set(statements) == set(TABLES[table]), f"{table}: statements and expectations name different operations"
    # The owner's row exists (else every "hidden" cell would pass for the wrong reason).
    exists = world.conn.execute(f"select count(*) from {table} where {TABLE_SQL[table].key}", world.ids).fetchone()[0]
    assert exists == 1, f"{table}: the world has no row for the owner"
    mismatches = []
    for op, statement in statements.items():
        for who in ROLES:
            want = expected_for(TABLES[table][op], who, world.owner_is)
            got = table_outcome(op, world.run(who, statement, setup=TABLE_SQL[table].setup.get(op)))
            if got != want:
                mismatches.append(f"{table} {op} as {who} (owner is {world.owner_is}): expected {want}, got {got}")
    assert not mismatches, "\n".join(mismatches)


def function_arguments(conn: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    """Every function in public with its input arguments (name, type), from pg_catalog."""
    rows = conn.execute("""
        select p.proname,
               coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
               array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) t)
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public'""").fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for name, arg_names, modes, in_types in rows:
        in_names = [a for a, m in zip(arg_names, modes, strict=False) if m in ("i", "b", "v")] if modes else arg_names
        assert name not in found, f"public.{name} is overloaded; the API never overloads"
        found[name] = list(zip(in_names, in_types, strict=True))
    return found


def resolve(value: Any, world: World, who: str) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        key = value[1:]
        if key == "peer":
            key = "counterparty" if who == "owner" else "owner"
        return world.ids[key]
    if isinstance(value, list):
        return [resolve(v, world, who) for v in value]
    return value


def call_statement(fn: str, args: dict[str, Any], types: dict[str, str]) -> str:
    given = ", ".join(f"{name} => %({name})s::{types[name]}" for name in args)
    return f"select * from public.{fn}({given})"


def function_outcome(result: tuple[str, Any]) -> str:
    """42501 is a refusal; success or a domain/data error (P0xxx, PT404 "not found", 22xxx, 23xxx) means the role
    may execute it.
    Anything else (42702, 42883, XX000, ...) is a function that cannot run at all: reported, never "allowed"."""
    kind, detail = result
    if kind == "ok":
        return ALLOWED
    code, message = detail
    if code == "42501":
        return REFUSED
    if code.startswith(("P0", "22", "23")) or code == "PT404":
        return ALLOWED
    return f"broken ({code}: {message})"


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_function_matrix(world, fn):
    catalog = function_arguments(world.conn)
    if fn not in catalog:
        pytest.fail(f"public.{fn} has a row in FUNCTIONS but does not exist")
    types = dict(catalog[fn])
    spec = FUNCTIONS[fn]
    unknown = set(spec.args) - set(types)
    assert not unknown, f"{fn}: arguments {unknown} are not parameters of the function"
    mismatches = []
    for who in ROLES:
        params = {k: resolve(v, world, who) for k, v in spec.args.items()}
        params = {k: Jsonb(v) if types[k] in ("jsonb", "json") else v for k, v in params.items()}
        statement = call_statement(fn, spec.args, types)
        got = function_outcome(world.run(who, statement, params))
        want = expected_for(spec.expect, who, world.owner_is)
        if got != want:
            mismatches.append(f"{fn} as {who} (owner is {world.owner_is}): expected {want}, got {got}")
    assert not mismatches, "\n".join(mismatches)


# --- what functions disclose ------------------------------------------------------------------

#: Information a function may reveal about the owner (a seeker), by caller. VISIBLE: the caller learns it.
DISCLOSURE: dict[str, dict[str, str]] = {
    # README: "A client's own busy times count only when the caller is that client or their consultant."
    "open_slots: when the owner has a session with another consultant": row(REFUSED, HIDDEN, VISIBLE, VISIBLE, HIDDEN),
}


@pytest.fixture
def seeker_world(embedded_db):
    with psycopg.connect(embedded_db.conninfo("postgres")) as conn:
        yield World(conn, "seeker")
        conn.rollback()


def test_open_slots_reveals_a_clients_sessions_only_to_them_and_their_consultant(seeker_world):
    """A caller who is a consultant passes themselves as p_consultant and someone as p_client: the slots that
    disappear are that person's sessions elsewhere. Only the client and their own consultant may see that."""
    w = seeker_world
    ids = w.ids
    elsewhere = w.member("Theo Third", consultant=True)
    request = w.scalar(
        "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
        "values (%s, %s, 'Hi', 'accepted') returning id",
        ids["owner"],
        elsewhere,
    )
    engagement = w.scalar(
        "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s) returning id",
        request,
        ids["owner"],
        elsewhere,
    )
    w.conn.execute(
        "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, blocked_until, "
        "status, requested_by) select %s, %s, %s, t, t + interval '50 minutes', t + interval '1 hour', 'confirmed', %s "
        "from (select ((current_date + 5) + time '10:00') at time zone 'America/New_York' as t) x",
        (elsewhere, ids["owner"], engagement, ids["owner"]),
    )
    for consultant in (ids["counterparty"], ids["stranger"]):
        w.conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '08:00', '18:00' from generate_series(1, 7) d",
            (consultant,),
        )
    statement = (
        "select coalesce(array_agg(starts_at order by starts_at), '{}') "
        "from public.open_slots(%(consultant)s, current_date + 5, current_date + 5, %(client)s)"
    )
    seen = {}
    for who in ROLES:
        # A consultant asks about their own calendar; the others about a consultant's they could book.
        consultant = {"stranger": ids["stranger"], "counterparty": ids["counterparty"]}.get(who, ids["stranger"])
        if who == "owner":
            consultant = ids["counterparty"]
        plain = w.run(who, statement, {"consultant": consultant, "client": None})
        probed = w.run(who, statement, {"consultant": consultant, "client": ids["owner"]})
        if plain[0] == "error" or probed[0] == "error":
            seen[who] = REFUSED if "42501" in (plain[1][0], probed[1][0]) else f"error {plain[1]} {probed[1]}"
            continue
        assert plain[1][1][0][0], f"{who}: the consultant has no open slots that day, the probe proves nothing"
        seen[who] = VISIBLE if plain[1][1] != probed[1][1] else HIDDEN
    cell = "open_slots: when the owner has a session with another consultant"
    mismatches = [
        f"{cell}, as {who}: expected {want}, got {seen[who]}"
        for who, want in DISCLOSURE[cell].items()
        if seen[who] != want
    ]
    assert not mismatches, "\n".join(mismatches)


# --- every table and function has a row -------------------------------------------------------


def test_every_table_and_function_has_a_row_in_the_matrix(embedded_db):
    """New tables or functions without a row fail the suite; so do rows for objects that are gone."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        tables = {
            r[0]
            for r in conn.execute("""
            select n.nspname || '.' || c.relname from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f')""")
        }
        functions = set(function_arguments(conn))
    assert sorted(tables - set(TABLES)) == [], "tables without a row in TABLES"
    assert sorted(set(TABLES) - tables) == [], "rows in TABLES for tables that do not exist"
    assert set(TABLES) == set(TABLE_SQL)
    assert sorted(functions - set(FUNCTIONS)) == [], "functions without a row in FUNCTIONS"
    assert sorted(set(FUNCTIONS) - functions) == [], "rows in FUNCTIONS for functions that do not exist"
    for name, expectations in TABLES.items():
        assert {"select", "insert", "update", "delete"} <= set(expectations), name
        assert all(set(by_role) == set(ROLES) for by_role in expectations.values()), name
    assert all(set(spec.expect) == set(ROLES) for spec in FUNCTIONS.values())


# --- lints on the migrated schema (test_database.py has the first ones) ---------------------

API_ROLES = ("anon", "authenticated", "portal_member", "service_role")
SCHEMAS = ("public", "private", "auth", "extensions", "supabase_migrations")
_NOT_EXTENSION_MEMBER = """not exists (select 1 from pg_catalog.pg_depend d
                                where d.objid = {oid} and d.deptype = 'e')"""


def _rows(conn: psycopg.Connection, statement: str, params=()) -> list:
    return [r[0] if len(r) == 1 else r for r in conn.execute(statement, params).fetchall()]


def test_no_view_in_an_api_schema_bypasses_rls(embedded_db):
    """A view runs as its owner unless security_invoker; a materialized view always does. Views in the
    schemas the API sees must be security_invoker, and materialized views must be out of every API role's
    reach."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        definer_views = _rows(
            conn,
            """
            select n.nspname || '.' || c.relname from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any (%s) and c.relkind = 'v'
              and not exists (select 1 from unnest(coalesce(c.reloptions, '{}')) o
                              where lower(o) in ('security_invoker=true', 'security_invoker=on',
                                                 'security_invoker=1', 'security_invoker=yes'))""",
            (list(SCHEMAS),),
        )
        reachable_matviews = _rows(
            conn,
            """
            select n.nspname || '.' || c.relname || ' by ' || r from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace, unnest(%s::text[]) r
            where n.nspname = any (%s) and c.relkind = 'm' and has_table_privilege(r, c.oid, 'SELECT')""",
            (list(API_ROLES), list(SCHEMAS)),
        )
    assert not definer_views, "\n".join(definer_views)
    assert not reachable_matviews, "\n".join(reachable_matviews)


def test_anon_has_no_privilege_on_any_table_view_or_column(embedded_db):
    """Extends test_database's lint (table grants in public/private) to views, foreign tables,
    column-level grants, grants to PUBLIC, and the bootstrap's schemas."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        granted = _rows(
            conn,
            """
            select n.nspname || '.' || c.relname from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any (%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')
              and (has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                   or has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                   or exists (select 1 from aclexplode(c.relacl) a where a.grantee = 0))""",
            (list(SCHEMAS),),
        )
    assert not granted, "\n".join(granted)


def test_no_sequence_is_usable_by_anon_or_members(embedded_db):
    """Supabase's default privileges grant ALL on new sequences to anon and authenticated, as they do on
    tables; the migrations revoke what they do not mean to grant. Identity columns need no sequence
    privilege to insert, so nobody but the owner and service_role needs one."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        usable = _rows(
            conn,
            """
            select n.nspname || '.' || c.relname || ' by ' || r from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace,
                 unnest(array['anon', 'authenticated', 'portal_member']) r
            where n.nspname = any (%s) and c.relkind = 'S'
              and has_sequence_privilege(r, c.oid, 'USAGE, SELECT, UPDATE')
            order by 1""",
            (list(SCHEMAS),),
        )
    assert not usable, "\n".join(usable)


def test_every_function_of_ours_pins_an_empty_search_path(embedded_db):
    """Extends test_database's lint to the auth schema the bootstrap creates and to trigger functions."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        unpinned = _rows(
            conn,
            f"""
            select n.nspname || '.' || p.proname from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('public', 'private', 'auth') and {_NOT_EXTENSION_MEMBER.format(oid="p.oid")}
              and not coalesce(p.proconfig, '{{}}') @> array['search_path=""']""",
        )
    assert not unpinned, "\n".join(unpinned)


def test_no_security_definer_function_anywhere_is_executable_by_anon_or_public(embedded_db):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        exposed = _rows(
            conn,
            f"""
            select n.nspname || '.' || p.proname from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef and n.nspname = any (%s) and {_NOT_EXTENSION_MEMBER.format(oid="p.oid")}
              and (has_function_privilege('anon', p.oid, 'EXECUTE')
                   or exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                              where a.grantee = 0 and a.privilege_type = 'EXECUTE'))""",
            (list(SCHEMAS),),
        )
    assert not exposed, "\n".join(exposed)


def test_security_definer_functions_are_owned_by_the_non_superuser_owner(embedded_db):
    """A definer owned by a superuser would run with every privilege there is."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        owners = _rows(
            conn,
            f"""
            select n.nspname || '.' || p.proname || ' owned by ' || r.rolname from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            join pg_catalog.pg_roles r on r.oid = p.proowner
            where p.prosecdef and n.nspname in ('public', 'private')
              and {_NOT_EXTENSION_MEMBER.format(oid="p.oid")} and (r.rolsuper or r.rolbypassrls)""",
        )
    assert not owners, "\n".join(owners)


def test_internal_functions_are_executable_by_no_api_role(embedded_db):
    """README, "SECURITY DEFINER functions": the screening seam and the search relaxations are "not
    executable by any API role; called only from the functions here". service_role is an API role too
    (PostgREST switches to it for the service key), so it must not reach them either."""
    server_side = (  # the server's own calls: sign-in, the sender, and its calendar sweep (issue 27)
        "auth_",
        "outbox_",
        "portal_has",
        "account_link",
        "write_due_reminders",
        "calendars_due",
        "calendar_reading_done",
        "calendar_sessions",
    )
    internal = [name for name, spec in FUNCTIONS.items() if spec.expect == NOBODY and not name.startswith(server_side)]
    assert sorted(internal) == ["screen_candidates", "search_relaxations"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        reachable = _rows(
            conn,
            """
            select p.proname || ' by ' || r from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace, unnest(%s::text[]) r
            where n.nspname = 'public' and p.proname = any (%s) and has_function_privilege(r, p.oid, 'EXECUTE')
            order by 1""",
            (list(API_ROLES), internal),
        )
    assert not reachable, "\n".join(reachable)
