"""Consultation requests: ask a consultant, answer in the inbox, see outcomes."""

from __future__ import annotations

from typing import Any

from portal.db import Backend, Claims, Refusal


def _refusal(exc: Refusal) -> Refusal:
    """The database's refusal with its hint (what to do instead) added to the sentence."""
    if exc.code == "23514" and "requests_message_length" in (exc.json().get("message") or ""):
        return Refusal("The message can be at most 1,500 characters.", "message")
    with_hint = f"{exc.message} {exc.hint}" if exc.hint and exc.code == "P0001" else exc.message
    return Refusal(with_hint, exc.field, exc.code)


def request_consultation(
    backend: Backend, claims: Claims, consultant_id: str, modalities: list[str], message: str
) -> dict[str, Any]:
    if not (message or "").strip():
        raise Refusal("Write a short message to the consultant.", "message")
    if len(message) > 1500:
        raise Refusal("The message can be at most 1,500 characters.", "message")
    try:
        return backend.rpc(
            "request_consultation",
            {"p_consultant": consultant_id, "p_modalities": modalities, "p_message": message},
            as_user=claims,
        )
    except Refusal as exc:
        raise _refusal(exc) from exc


def respond(
    backend: Backend, claims: Claims, request_id: str, *, accept: bool, reason: str | None = None
) -> dict[str, Any]:
    if not accept and not (reason or "").strip():
        raise Refusal("Give a reason when you decline, so your colleague can look elsewhere.", "reason")
    try:
        return backend.rpc(
            "respond_to_request", {"p_request": request_id, "p_accept": accept, "p_reason": reason}, as_user=claims
        )
    except Refusal as exc:
        raise _refusal(exc) from exc


def my_requests(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_requests", {}, as_user=claims)


def my_engagements(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_engagements", {}, as_user=claims)
