"""Entry point: page config, backend bootstrap, one Authenticate per run, navigation."""

from pathlib import Path

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from components import context, sign_in_sessions
from components.errors import database_errors_as_messages
from components.mail_sender import local_mail_settings, local_sender_wanted, start_local_sender
from components.notifications import unread_badge
from components.registration import PortalValidator
from portal.auth import DatabaseCredentials, current_user_from
from portal.config import ConfigurationError, environment_key
from portal.plain_text import plain
from portal.sign_in_sessions import COOKIE_NAME, SESSION_DAYS

# A local icon: a Material-symbol favicon would be fetched from a font CDN.
st.set_page_config(
    page_title="Peer Consultation Portal",
    page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
    layout="centered",
)

# The authenticator's cookie component renders an empty iframe: keep it from taking space.
st.html("<style>.st-key-init, .st-key-set, .st-key-delete {position: absolute; height: 0; overflow: hidden;}</style>")
# The portal's layout rules (tabs and segmented controls wrap on a phone instead of cutting text off).
st.html(Path(__file__).parent / "assets" / "portal.css")


@st.cache_resource(show_spinner=False)
def cookie_key(environment: tuple[str | None, ...]) -> str:
    """The cookie-signing key: settings (not per user) and the key file are read once per process and
    environment, not on every run. `environment` (portal.config.environment_key) is only the cache key."""
    return context.settings().resolved_cookie_key()


try:
    signing_key = cookie_key(environment_key())
except ConfigurationError as exc:  # e.g. a placeholder PORTAL_COOKIE_KEY: refuse to run, in a sentence
    st.error(str(exc), icon=":material/key_off:")
    st.stop()


with database_errors_as_messages():
    backend = context.backend()
    credentials = DatabaseCredentials(backend)
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=COOKIE_NAME,
        cookie_key=signing_key,
        cookie_expiry_days=SESSION_DAYS,
        validator=PortalValidator(),  # portal.auth's name rules (O'Brien, Zoë, 李), explained when refused
        auto_hash=False,  # hashes come from the database; never hash a whole user table
        login_sleep_time=0,
    )
    # The cookie also names the account and a server-side session; it opens nothing once that session ended.
    sign_in_sessions.bind_cookie(authenticator, credentials, backend)
    # Every door that takes a password (sign-in, Change password) checks it in one place: failures counted, the
    # lock honoured (portal.auth.check_password).
    authenticator.authentication_controller.authentication_model.check_credentials = credentials.users.check_credentials
    st.session_state["portal_credentials"] = credentials
    st.session_state["portal_authenticator"] = authenticator

    # Restore a session from the signed cookie, without drawing anything. A cookie naming an
    # account that no longer exists (deleted), or a session that ended, leaves the visitor signed out.
    try:
        authenticator.login(location="unrendered")
    except LoginError:
        st.session_state["authentication_status"] = None
    username = st.session_state.get("username") if st.session_state.get("authentication_status") else None
    # Every run: the session this browser holds must still be open (sign-out elsewhere, a new password or a
    # closed account end it at once, in every open tab too).
    if not sign_in_sessions.gate(authenticator, backend, username):
        username = None
    user = context.current_user()
    if username and (user is None or user.username != username):
        st.session_state["portal_user"] = current_user_from(credentials, username)
    elif not username:
        st.session_state.pop("portal_user", None)
    user = context.current_user()
run_local_sender = local_sender_wanted(context.settings())

# Every page, with the address it answers to. Each is registered for every visitor, so every address works:
# shown in the menu where it belongs, hidden elsewhere (the page itself says who it is for).
PAGES = [  # (script, title, icon, address, in the menu of)
    ("views/home.py", "Home", ":material/home:", "home", "Portal"),
    ("views/find.py", "Find a consultant", ":material/search:", "find", "Portal"),
    ("views/consultant.py", "Consultant profile", ":material/person_search:", "consultant", None),  # from results
    ("views/requests.py", "Requests", ":material/inbox:", "requests", "Portal"),
    ("views/appointments.py", "Appointments", ":material/event:", "appointments", "Portal"),
    ("views/termination.py", "Termination plans", ":material/flag:", "termination", "Portal"),
    ("views/notifications.py", "Notifications", ":material/notifications:", "notifications", None),  # the badge
    ("views/my_profile.py", "My profile", ":material/badge:", "profile", "You"),
    ("views/screening.py", "My relationships", ":material/diversity_3:", "relationships", "You"),
    ("views/my_practice.py", "My practice", ":material/workspace_premium:", "practice", "Consultants"),
    ("views/my_availability.py", "My availability", ":material/schedule:", "availability", "Consultants"),
    ("views/account.py", "Account", ":material/lock:", "account", "You"),
    ("views/admin.py", "Admin", ":material/admin_panel_settings:", "admin", "Administration"),
]


def menu_of(section: str | None) -> str | None:
    """Where a page shows for this user: its section, or None (registered, hidden)."""
    if user is None or section is None:
        return None
    if section == "Consultants":
        return "You" if user.is_consultant else None
    if section == "Administration":
        return section if user.is_admin else None
    return section


# Every address the portal sends or shows opens a page for every visitor, signed in or not (issue 26, item 2).
# Sign in and Register are registered for members too: their scripts take a member home with a note.
register = st.Page(
    "views/register.py",
    title="Register",
    icon=":material/person_add:",
    url_path="register",
    visibility="visible" if user is None else "hidden",
)
sign_in = st.Page(
    "views/sign_in.py",
    title="Sign in",
    icon=":material/login:",
    url_path="sign-in",
    visibility="visible" if user is None else "hidden",
)
forgot = st.Page(
    "views/forgot_password.py",
    title="Forgot password",
    icon=":material/lock_reset:",
    url_path="forgot-password",
    visibility="hidden",
)
# Where the emails' links land, signed in or not (a member verifies the address from the Account page).
# Registered for every visitor, hidden from the menu.
links = [
    st.Page(
        "views/verify_email.py",
        title="Confirm your email",
        icon=":material/mark_email_read:",
        url_path="verify-email",
        visibility="hidden",
    ),
    st.Page(
        "views/reset_password.py",
        title="Choose a new password",
        icon=":material/lock_reset:",
        url_path="reset-password",
        visibility="hidden",
    ),
]
# The portal's own address ("/"): Home for a member, Sign in for a visitor. It is a page of its own because Streamlit
# serves its default page at "/" only: a default page's own address (/home, /sign-in) would read "Page not found".
# Registered after the pages it shows, so a link to views/home.py or views/sign_in.py goes to /home or /sign-in.
landing = st.Page(
    "views/home.py" if user is not None else "views/sign_in.py",
    title="Home" if user is not None else "Sign in",
    icon=":material/home:" if user is not None else ":material/login:",
    url_path="portal",
    default=True,
    visibility="hidden",
)
pages: dict[str, list] = {"Portal": [], "You": [], "Administration": [], "": []}
for script, title, icon, address, section in PAGES:
    shown = menu_of(section)
    # Signed out, a member's address (a bookmark, a link in an email) shows sign-in; once signed in, the same
    # address opens the page asked for.
    pages[shown or ""].append(
        st.Page(
            script if user is not None else "views/sign_in.py",
            title=title,
            icon=icon,
            url_path=address,
            visibility="visible" if shown else "hidden",
        )
    )
pages[""] = [sign_in, register, *pages[""], forgot, *links, landing]
pages = {section: listed for section, listed in pages.items() if listed}

page = st.navigation(pages, position="sidebar" if user else "top")
if user is not None:  # after st.navigation: page links need the pages registered
    st.sidebar.caption(f"Signed in as **{plain(user.display_name)}**")
    with st.sidebar:
        unread_badge(backend, user)
if run_local_sender:
    # Local mode delivers its own outbox (production runs `python -m portal.mailer`), signed out too: a
    # registration's link must reach the mailbox before anyone signs in.
    start_local_sender(backend, local_mail_settings(context.settings()), context.settings())
page.run()
