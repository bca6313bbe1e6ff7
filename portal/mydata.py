"""My data: everything the portal holds about me, as JSON and CSV in one zip; deleting my account."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pandas as pd

from portal.db import Backend, Claims, Refusal


def export_my_data(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("export_my_data", {}, as_user=claims)


def export_zip(data: dict[str, Any]) -> bytes:
    """my-data.json with everything, and one CSV per topic."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("my-data.json", json.dumps(data, indent=2, default=str))
        for topic, value in data.items():
            if topic == "exported_at":
                continue
            rows = value if isinstance(value, list) else [value] if value else []
            frame = pd.json_normalize(rows) if rows else pd.DataFrame()
            archive.writestr(f"{topic}.csv", frame.map(spreadsheet_text).to_csv(index=False))
    return buffer.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A cell as text a spreadsheet shows, never runs: text starting like a formula (=HYPERLINK(...) in a name or
    note a member typed) gets a leading apostrophe, which spreadsheets hide (OWASP's advice for CSV exports)."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def delete_my_account(backend: Backend, claims: Claims, confirm_username: str) -> None:
    try:
        backend.rpc("delete_my_account", {"p_confirm_username": confirm_username}, as_user=claims)
    except Refusal as exc:
        hint = f" {exc.hint}" if exc.code == "P0001" and exc.hint else ""
        raise Refusal(exc.message + hint, exc.field, exc.code) from exc


def my_home(backend: Backend, claims: Claims) -> dict[str, Any]:
    """What Home counts for the member: requests, sessions and plans waiting on them, unread notifications."""
    return backend.rpc("my_home", {}, as_user=claims)


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    """ "1 request", "2 requests", "0 requests"; `plural_form` for irregular words ("1 person", "2 people")."""
    return f"{n} {word if n == 1 else plural_form or word + 's'}"


def attention_items(home: dict[str, Any]) -> list[tuple[str, str]]:
    """(sentence, page) for everything waiting on the member, most pressing first."""
    items = []
    if n := home["requests_to_answer"]:
        items.append((f"{plural(n, 'consultation request')} to answer", "views/requests.py"))
    if n := home["bookings_to_confirm"]:
        items.append((f"{plural(n, 'proposed session')} to confirm or decline", "views/appointments.py"))
    if n := home["plans_to_sign"]:
        items.append((f"{plural(n, 'termination plan')} awaiting your signature", "views/termination.py"))
    if n := home["waivers_to_answer"]:
        items.append((f"{plural(n, 'conflict waiver')} the other party signed and you have not", "views/requests.py"))
    if n := home["unread_notifications"]:
        items.append((f"{plural(n, 'unread notification')}", "views/notifications.py"))
    return items


def requests_waiting_sentence(n: int) -> str:
    """Home's line about the member's own requests still waiting for a consultant's answer."""
    return f"{n} of your requests {'awaits' if n == 1 else 'await'} a consultant's answer."
