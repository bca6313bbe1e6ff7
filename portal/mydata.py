"""My data: everything the portal holds about me, as JSON and CSV in one zip; deleting my account."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pandas as pd

from portal.db import APIError, Backend, Claims, friendly_message


class DeletionRefused(Exception):
    pass


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
            archive.writestr(f"{topic}.csv", frame.to_csv(index=False))
    return buffer.getvalue()


def delete_my_account(backend: Backend, claims: Claims, confirm_username: str) -> None:
    try:
        backend.rpc("delete_my_account", {"p_confirm_username": confirm_username}, as_user=claims)
    except APIError as exc:
        raise DeletionRefused(friendly_message(exc)) from exc


def attention_items(home: dict[str, Any]) -> list[tuple[str, str]]:
    """(sentence, page) for everything waiting on the member, most pressing first."""
    items = []
    if home["requests_to_answer"]:
        items.append((f"{home['requests_to_answer']} consultation request(s) to answer", "views/requests.py"))
    if home["bookings_to_confirm"]:
        items.append((f"{home['bookings_to_confirm']} proposed session(s) to confirm or decline",
                      "views/appointments.py"))
    if home["plans_to_sign"]:
        items.append((f"{home['plans_to_sign']} termination plan(s) awaiting your signature", "views/termination.py"))
    if home["waivers_to_answer"]:
        items.append((f"{home['waivers_to_answer']} conflict waiver(s) the other party signed and you have not",
                      "views/requests.py"))
    if home["unread_notifications"]:
        items.append((f"{home['unread_notifications']} unread notification(s)", "views/notifications.py"))
    return items
