"""Consultation requests: ask a consultant, answer in the inbox, see outcomes."""

from __future__ import annotations

from typing import Any

from portal.db import APIError, Backend, Claims, friendly_message


class RequestRefused(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _refusal(exc: APIError) -> RequestRefused:
    text = friendly_message(exc)
    if exc.hint and exc.code == "P0001":
        text = f"{text} {exc.hint}"
    field = exc.details if exc.code == "P0001" and isinstance(exc.details, str) else None
    if exc.code == "23514" and "requests_message_length" in (exc.message or ""):
        return RequestRefused("The message can be at most 1,500 characters.", "message")
    return RequestRefused(text, field)


def request_consultation(
    backend: Backend, claims: Claims, consultant_id: str, modalities: list[str], message: str
) -> dict[str, Any]:
    if not (message or "").strip():
        raise RequestRefused("Write a short message to the consultant.", "message")
    if len(message) > 1500:
        raise RequestRefused("The message can be at most 1,500 characters.", "message")
    try:
        return backend.rpc(
            "request_consultation",
            {"p_consultant": consultant_id, "p_modalities": modalities, "p_message": message},
            as_user=claims,
        )
    except APIError as exc:
        raise _refusal(exc) from exc


def respond(
    backend: Backend, claims: Claims, request_id: str, *, accept: bool, reason: str | None = None
) -> dict[str, Any]:
    if not accept and not (reason or "").strip():
        raise RequestRefused("Give a reason when you decline, so your colleague can look elsewhere.", "reason")
    try:
        return backend.rpc(
            "respond_to_request", {"p_request": request_id, "p_accept": accept, "p_reason": reason}, as_user=claims
        )
    except APIError as exc:
        raise _refusal(exc) from exc


def my_requests(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_requests", {}, as_user=claims)


def my_engagements(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_engagements", {}, as_user=claims)
