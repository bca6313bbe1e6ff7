"""Sign-up that reveals nothing, verified addresses, and password reset by a link (issue 13).

Registration and "forgot password" are requests: the pages answer one sentence whoever asks, and the
database (migration 20261129002100) queues one message per request — a link that creates the account,
"someone tried to register with your email", or a reset link to a verified address — counting them
per address and per typed name (3 an hour). Both answers do the same work whatever the address: one
bcrypt hash (registration) and one RPC; the database decides in one call, and nothing it decides
comes back to the page.

Tokens are minted by the sender when it sends a message (`new_token`): the plaintext goes only into
the email, the database keeps its sha256 (account_link_arm). A page given `?token=` hashes it and
asks the database.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bcrypt

from portal.auth import (
    clean_name,
    clean_username,
    registration_name_problems,
    username_problem,
)
from portal.db import SERVICE, APIError, Backend, Claims, Refusal, friendly_message
from portal.passwords import password_problem

VERIFY_HOURS = 24
RESET_MINUTES = 45
PER_HOUR = 3  # messages of one kind per address (and per typed name) an hour: private.account_links_over_limit
REGISTRATIONS_PER_CLIENT = 5  # registrations per client an hour: private.account_links_client_over_limit

REGISTRATION_ANSWER = (
    "Check your inbox to finish creating your account. We sent a message to the address you gave; its link "
    f"works for {VERIFY_HOURS} hours. Nothing arrived within a few minutes? Look in your spam folder, then "
    "register again."
)
RESET_ANSWER = (
    "Check your inbox. If an account matches what you typed and its email address is verified, we sent it a "
    f"link to choose a new password; the link works once, for {RESET_MINUTES} minutes. Nothing arrived? Look in "
    "your spam folder, or ask an administrator."
)
RESET_RULE = "A reset link goes only to a verified address, never to one that was not confirmed."

# The database's own check (credentials_email_format), so a refused address is refused here, not later.
_EMAIL_FORMAT = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
EMAIL_MAX_LENGTH = 320

#: Where each link opens: the page's url_path (app.py) and the query parameter carrying the token.
LINK_PAGES = {"registration": "verify-email", "verify_email": "verify-email", "reset": "reset-password"}
#: Messages that may go to an address that is not verified: they are its verification.
VERIFICATION_KINDS = frozenset({"registration", "verify_email"})


def new_token() -> tuple[str, str]:
    """A fresh token: (plaintext for the email, sha256 hex for the database)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").strip().encode()).hexdigest()


def link_url(base_url: str, kind: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/{LINK_PAGES[kind]}?token={token}"


def hash_password(password: str) -> str:
    """bcrypt at the cost every other hash in the portal has (gensalt's default, 12)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def email_problem(email: str | None) -> str | None:
    text = (email or "").strip()
    if not text:
        return "Enter your email address."
    if len(text) > EMAIL_MAX_LENGTH or not _EMAIL_FORMAT.fullmatch(text):
        return "Enter a valid email address, like name@example.org."
    return None


def registration_problems(
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    username: str | None,
    password: str | None,
    password_repeat: str | None,
) -> dict[str, str]:
    """Every field's problem, keyed by field; empty when the request may go to the database."""
    problems = registration_name_problems(first_name, last_name)
    if problem := email_problem(email):
        problems["email"] = problem
    if problem := username_problem(username):
        problems["username"] = problem
    if problem := password_problem(password):
        problems["password"] = problem
    if password and (password or "") != (password_repeat or ""):  # said with the password's own problems
        problems["password_repeat"] = "The two passwords differ: type the same password twice."
    return problems


def client_address(ip_address: str | None, headers: Mapping[str, str] | None, *, behind_gateway: bool) -> str | None:
    """Who is asking, for counting registrations per client: the address the server saw (Streamlit's
    st.context.ip_address), or behind a gateway (PORTAL_BEHIND_GATEWAY=1) the last address of its
    X-Forwarded-For, the one the gateway itself saw (earlier entries are whatever the client sent)."""
    if behind_gateway:
        forwarded = {k.lower(): v for k, v in (headers or {}).items()}.get("x-forwarded-for") or ""
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:200]
    return (ip_address or "").strip()[:200] or None


def request_registration(
    backend: Backend,
    first_name: str,
    last_name: str,
    email: str,
    username: str,
    password: str,
    *,
    client: str | None = None,
) -> str:
    """Queue the registration; returns REGISTRATION_ANSWER whatever became of the address (or of the client's
    count: `client`, from client_address, is counted, REGISTRATIONS_PER_CLIENT an hour).

    Raises Refusal only for a username already taken (usernames are not the secret), or a name the
    database's rule refuses (public.display_name_problem)."""
    password_hash = hash_password(password)  # always, before the database is asked: the same work every time
    try:
        answer = backend.rpc(
            "auth_request_registration",
            {
                "p_username": clean_username(username),
                "p_email": (email or "").strip(),
                "p_display_name": f"{clean_name(first_name)} {clean_name(last_name)}".strip(),
                "p_password_hash": password_hash,
                "p_client": client,
            },
            as_user=SERVICE,
        )
    except APIError as exc:
        if exc.code == "P0001" and exc.details == "display_name":  # public.display_name_problem's sentence
            raise Refusal(friendly_message(exc), "display_name", exc.code) from exc
        if exc.code == "23514":
            unfit = "Registration could not be completed: check the fields and try again."
            raise Refusal(unfit, code=exc.code) from exc
        raise
    if answer == "username_taken":
        raise Refusal("That username is taken. Choose another one.", "username")
    return REGISTRATION_ANSWER


def request_password_reset(backend: Backend, identifier: str) -> str:
    """Queue a reset link if a verified account matches; returns RESET_ANSWER whatever happened."""
    backend.rpc(
        "auth_request_password_reset", {"p_identifier": (identifier or "").strip()[:EMAIL_MAX_LENGTH]}, as_user=SERVICE
    )
    return RESET_ANSWER


@dataclass(frozen=True)
class LinkState:
    kind: str | None
    state: str  # valid, expired, spent, unknown
    username: str | None


def link_state(backend: Backend, token: str) -> LinkState:
    row = backend.rpc("auth_link_state", {"p_token_hash": token_hash(token)}, as_user=SERVICE)
    return LinkState(row.get("kind"), row["state"], row.get("username"))


def redeem_verification(backend: Backend, token: str) -> dict[str, Any]:
    """Open a verification link: {'outcome': created|verified|confirmed|expired|spent|unknown|username_taken|
    email_taken, 'username': ...}. 'confirmed': the link was opened before (a mail program's check, a second
    click) and its address now has its account, or is verified."""
    return backend.rpc("auth_redeem_verification", {"p_token_hash": token_hash(token)}, as_user=SERVICE)


def cancel_registration(backend: Backend, token: str) -> dict[str, Any]:
    """ "This was not me": the registration behind a link is cancelled and its link spent; nothing is created.
    {'outcome': cancelled|expired|spent|unknown, 'username': ...}."""
    return backend.rpc("auth_cancel_registration", {"p_token_hash": token_hash(token)}, as_user=SERVICE)


def reset_password(backend: Backend, token: str, password: str) -> dict[str, Any]:
    """Set a new password through a reset link: {'outcome': changed|expired|spent|unknown, 'username': ...}.
    Raises ValueError with the rule's sentence for a password the rules refuse (nothing is spent)."""
    if problem := password_problem(password):
        raise ValueError(problem)
    return backend.rpc(
        "auth_reset_password_by_link",
        {"p_token_hash": token_hash(token), "p_password_hash": hash_password(password)},
        as_user=SERVICE,
    )


#: A verification link opened again once its address is confirmed (mail programs open links to check them).
CONFIRMED_ALREADY = (
    "Your email address is confirmed, and your account **{username}** is ready. This link had been opened before "
    "(mail programs often open links to check them), so there is nothing more to do with it."
)

#: What a page says about a link it cannot use, by state / outcome.
LINK_SENTENCES = {
    "expired": "This link has expired.",
    "spent": "This link was used already: each link works once.",
    "unknown": "This link is not valid: it may be incomplete (copy the whole address from the email).",
    "username_taken": "Someone took that username after you registered, before you opened the link. Register "
    "again with another username.",
    "email_taken": "This address has an account already. Sign in, or reset your password from the sign-in page.",
    "cancelled": "The registration was cancelled: no account was created, and its link works no more.",
}


def my_email(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("my_email_verification", {}, as_user=claims)


def request_my_verification(backend: Backend, claims: Claims) -> dict[str, Any]:
    """Queue a verification link to the member's own address. Raises APIError (detail 'rate_limited') when
    three went there within the hour."""
    return backend.rpc("request_my_email_verification", {}, as_user=claims)
