"""Registration glue for streamlit-authenticator: portal.auth's name and username rules as its validator, and its
refusals mapped to the field they concern, as sentences."""

import os
from collections.abc import Mapping

import streamlit as st
from streamlit_authenticator.utilities import Validator

from portal.account_links import client_address
from portal.auth import NAME_RULES, REGISTRATION_NOT_COMPLETED, USERNAME_RULES, name_problem, username_problem
from portal.passwords import PASSWORD_RULES, password_problem

# The authenticator's refusals (controllers/authentication_controller.py, 0.4.2) -> (field, sentence).
AUTHENTICATOR_MESSAGES = {
    "First name is not valid": ("first_name", NAME_RULES),
    "Last name is not valid": ("last_name", NAME_RULES),
    "Email is not valid": ("email", "Enter a valid email address, like name@example.org."),
    "Username is not valid": ("username", USERNAME_RULES),
    "Password/repeat password fields cannot be empty": ("password", "Enter a password, then repeat it below."),
    "Passwords do not match": ("password_repeat", "The two passwords differ: type the same password twice."),
    "Username/email already taken": ("username", "That username is taken. Choose another one."),
    # Never "this email has an account" (#13); the Register page no longer uses the authenticator's widget anyway.
    "Email already taken": (None, REGISTRATION_NOT_COMPLETED),
}


class PortalValidator(Validator):
    """The authenticator's checks, with portal.auth's rules for names and usernames (the database's rule)."""

    def validate_name(self, name: str) -> bool:
        return name_problem("Name", name) is None

    def validate_username(self, username: str) -> bool:
        return username_problem(username) is None

    def validate_password(self, password: str) -> bool:
        # NIST SP 800-63B: length and a list of common passwords, no composition rules. (The authenticator's own
        # rule refused passphrases with spaces and any password longer than 20 characters.)
        return password_problem(password) is None


def refusal_field(message: str) -> tuple[str | None, str]:
    """Which field a refusal concerns (None: the whole form) and the sentence to show there."""
    if message in AUTHENTICATOR_MESSAGES:
        return AUTHENTICATOR_MESSAGES[message]
    text = message.replace("\n\n", " ").replace("**", "").strip()
    if message.lstrip().startswith("**Password must"):
        return "password", PASSWORD_RULES  # the authenticator's own wording describes its old rule
    lowered = text.lower()
    for word, field in (("username", "username"), ("email", "email"), ("name", "last_name")):
        if word in lowered:
            return field, text
    return None, text


def registration_client() -> str | None:
    """The client a registration comes from, for counting registrations per client (portal.account_links):
    Streamlit's view of the connection, or behind a gateway (PORTAL_BEHIND_GATEWAY=1, in the environment or
    st.secrets) the address the gateway put last in X-Forwarded-For."""
    try:
        setting = st.secrets.get("PORTAL_BEHIND_GATEWAY")
    except Exception:  # no secrets.toml
        setting = None
    behind = str(setting or os.environ.get("PORTAL_BEHIND_GATEWAY", "0")).lower() in ("1", "true", "yes", "on")
    try:
        ip_address, headers = st.context.ip_address, st.context.headers
    except Exception:  # no browser connection (a bare script run): nothing to count by
        return None
    ip_address = ip_address if isinstance(ip_address, str) else None  # AppTest has no connection either
    headers = {k: v for k, v in headers.items() if isinstance(v, str)} if isinstance(headers, Mapping) else {}
    return client_address(ip_address, headers, behind_gateway=behind)
