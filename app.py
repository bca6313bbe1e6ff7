"""Entry point: page config, backend bootstrap, one Authenticate per run, navigation."""

from pathlib import Path

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from components import context
from components.errors import database_errors_as_messages
from components.notifications import unread_badge
from components.registration import PortalValidator
from portal.auth import DatabaseCredentials, current_user_from
from portal.config import ConfigurationError, environment_key

# A local icon: a Material-symbol favicon would be fetched from a font CDN.
st.set_page_config(page_title="Peer Consultation Portal", page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
                   layout="centered")

# The authenticator's cookie component renders an empty iframe: keep it from taking space.
st.html("<style>.st-key-init, .st-key-set, .st-key-delete {position: absolute; height: 0; overflow: hidden;}"
        "</style>")


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
        cookie_name="peer_portal_auth",
        cookie_key=signing_key,
        cookie_expiry_days=7,
        validator=PortalValidator(),  # portal.auth's name rules (O'Brien, Zoë, 李), explained when refused
        auto_hash=False,  # hashes come from the database; never hash a whole user table
        login_sleep_time=0,
    )
    st.session_state["portal_credentials"] = credentials
    st.session_state["portal_authenticator"] = authenticator

    # Restore a session from the signed cookie, without drawing anything. A cookie naming an
    # account that no longer exists (deleted) simply leaves the visitor signed out.
    try:
        authenticator.login(location="unrendered")
    except LoginError:
        st.session_state["authentication_status"] = None
    username = st.session_state.get("username") if st.session_state.get("authentication_status") else None
    user = context.current_user()
    if username and (user is None or user.username != username):
        st.session_state["portal_user"] = current_user_from(credentials, username)
    elif not username:
        st.session_state.pop("portal_user", None)
    user = context.current_user()

register = st.Page("views/register.py", title="Register", icon=":material/person_add:", url_path="register")
home = st.Page("views/home.py", title="Home", icon=":material/home:", url_path="home", default=True)
profile = st.Page("views/my_profile.py", title="My profile", icon=":material/badge:", url_path="profile")
find = st.Page("views/find.py", title="Find a consultant", icon=":material/search:", url_path="find")
consultant = st.Page("views/consultant.py", title="Consultant profile", icon=":material/person_search:",
                     url_path="consultant", visibility="hidden")  # opened from search results
requests = st.Page("views/requests.py", title="Requests", icon=":material/inbox:", url_path="requests")
termination = st.Page("views/termination.py", title="Termination plans", icon=":material/flag:",
                      url_path="termination")
appointments = st.Page("views/appointments.py", title="Appointments", icon=":material/event:",
                       url_path="appointments")
notifications = st.Page("views/notifications.py", title="Notifications", icon=":material/notifications:",
                        url_path="notifications", visibility="hidden")  # the sidebar badge links here
availability = st.Page("views/my_availability.py", title="My availability", icon=":material/schedule:",
                       url_path="availability")
relationships = st.Page("views/relationships.py", title="My relationships", icon=":material/diversity_3:",
                        url_path="relationships")
practice = st.Page("views/my_practice.py", title="My practice", icon=":material/workspace_premium:",
                   url_path="practice")
account = st.Page("views/account.py", title="Account", icon=":material/lock:", url_path="account")
admin = st.Page("views/admin.py", title="Admin", icon=":material/admin_panel_settings:", url_path="admin")

if user is None:
    pages = [st.Page("views/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in",
                     default=True), register]
else:
    pages = {"Portal": [home, find, consultant, requests, appointments, termination, notifications],
             "You": [profile, relationships, practice, availability, account] if user.is_consultant
             else [profile, relationships, account]}
    if user.is_admin:
        pages["Administration"] = [admin]

page = st.navigation(pages, position="sidebar" if user else "top")
if user is not None:  # after st.navigation: page links need the pages registered
    st.sidebar.caption(f"Signed in as **{user.display_name}**")
    with st.sidebar:
        unread_badge(backend, user)
page.run()
