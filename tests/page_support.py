"""Pages through Streamlit's AppTest, shared by the page suites: the app signed in as a member, the page
addresses, and readers for what a page drew (texts, keyed widgets, the element after another, a grid's message,
the week view's times). AppTest runs app.py in this process, on the test session's embedded database."""

from __future__ import annotations

import json
import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.sign_in_sessions import SESSION_KEY
from portal.auth import SignInSession
from portal.db import SERVICE, Backend

APP = str(Path(__file__).resolve().parents[1] / "app.py")


PAGES = {
    "home": "views/home.py",
    "profile": "views/my_profile.py",
    "account": "views/account.py",
    "admin": "views/admin.py",
    "sign_in": "views/sign_in.py",
    "register": "views/register.py",
    "find": "views/find.py",
    "consultant": "views/consultant.py",
    "requests": "views/requests.py",
    "practice": "views/my_practice.py",
    "relationships": "views/screening.py",
    "appointments": "views/appointments.py",
    "notifications": "views/notifications.py",
    "availability": "views/my_availability.py",
    "termination": "views/termination.py",
}


def app(username: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if username:
        signed_in_as(at, username)
    return at


def signed_in_as(at: AppTest, username: str, backend: Backend | None = None) -> AppTest:
    """A browser session signed in as `username`, as a counted sign-in leaves one: the authenticator's state and
    an open server-side session (app.py's gate checks it on every run)."""
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state[SESSION_KEY] = open_session(username, backend)
    return at


_SERVICE_BACKEND = []


def open_session(username: str, backend: Backend | None = None) -> SignInSession:
    """What a right password does in the database: auth_record_successful_login opens a session (through
    `backend`, or the test session's own server)."""
    if backend is None and not _SERVICE_BACKEND:  # tests/conftest.py started it under PORTAL_DATA_DIR
        from portal.db.bootstrap import start_embedded
        from portal.db.local import LocalBackend

        db = start_embedded(Path(os.environ["PORTAL_DATA_DIR"]), cleanup_mode=None)
        _SERVICE_BACKEND.append(LocalBackend(db.api_conninfo, max_size=2))
    backend = backend or _SERVICE_BACKEND[0]
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    assert state["signed_in"], f"{username} could not sign in: {state}"
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    return SignInSession(str(user_id), state["session"], username)


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def keyed(at: AppTest, kind: str, key: str):
    """A form widget by key, in whichever generation the form is drawn (components/formstate.py)."""
    for element in getattr(at, kind):
        if element.key == key or (element.key or "").startswith(f"{key}_g"):
            return element
    raise KeyError(key)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {ti.label: ti for ti in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def open_profile(username: str) -> AppTest:
    at = app(username).run()
    at.switch_page(PAGES["profile"]).run()
    no_exceptions(at)
    return at


def element_after(at, element) -> object:
    """The element drawn right after `element` on the page (its neighbour in the same container)."""
    nodes = [node for node in at.main if not hasattr(node, "children")]
    for position, node in enumerate(nodes):
        if getattr(node, "proto", None) is element.proto:
            return nodes[position + 1]
    raise AssertionError("element not on the page")


def browser_edit_state(editor, added_rows: list[dict]) -> dict:
    """The edit state a browser sends for st.data_editor, built by the rule of Streamlit 1.67's grid.

    EditingState.toJson (static/js/DataFrame.*.js) leaves out of `added_rows` every new row with an empty cell
    in a column whose config says `required` (and is editable), and omits empty cells from the rows it sends.
    """
    columns = json.loads(editor.proto.columns)
    required = [name for name, config in columns.items() if config.get("required") and not config.get("disabled")]
    sent = [{column: value for column, value in row.items() if value not in (None, "")} for row in added_rows]
    sent = [
        row
        for row, typed in zip(sent, added_rows, strict=True)
        if all(typed.get(column) not in (None, "") for column in required)
    ]
    return {"edited_rows": {}, "added_rows": sent, "deleted_rows": []}


def open_page(username: str, page: str):
    at = app(username).run()
    at.switch_page(PAGES[page]).run()
    no_exceptions(at)
    return at


def message_under(at, grid_index: int) -> str:
    """The error drawn right under the grid (its neighbour on the page)."""
    under = element_after(at, at.data_editor[grid_index])
    assert under in at.error, f"no error under grid {grid_index}"
    return under.value


def offered_times(at, prefix: str = "book_slot_") -> list[str]:
    """The open times the week view draws as buttons (keys `{picker}_pick_{start}`), as ISO starts."""
    return [b.key.split("_pick_", 1)[1] for b in at.button if b.key and b.key.startswith(prefix) and "_pick_" in b.key]


def pick_time(at, prefix: str = "book_slot_", index: int = 0) -> str:
    """Click one open time in the week view (the Book tab's picker key names the colleague); returns its start."""
    button = [b for b in at.button if b.key and b.key.startswith(prefix) and "_pick_" in b.key][index]
    button.click().run()
    return button.key.split("_pick_", 1)[1]


def signed_in_app(backend: Backend, username: str) -> AppTest:
    """The app as a browser session that signed in as `username` leaves it, the session opened through `backend`."""
    return signed_in_as(AppTest.from_file(APP, default_timeout=60), username, backend)


def all_text(at: AppTest) -> str:
    """Everything the page wrote, in one string (to check what it never names)."""
    kinds = ("title", "header", "markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))
