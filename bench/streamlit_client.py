"""A client that speaks the Streamlit server's websocket protocol, as the browser's frontend does (bench/app.py).

One `StreamlitSession` is one browser tab: it opens /_stcore/stream with the "streamlit" subprotocol, asks for
runs with `BackMsg.rerun_script` (the page's hash, the widgets' values, a button's trigger) and reads the
`ForwardMsg`s until the run's `script_finished`. It keeps what the last run drew (headings, texts, alerts,
exceptions, widgets by label) so a caller can press a button or fill a form by its label, and check what came back.

Fragments' timed reruns (the sidebar's unread badge, `st.fragment(run_every=30)`) are kept as the frontend keeps
them: each `auto_rerun` message schedules its fragment, `stop_auto_rerun` drops it, and `due_fragment()` /
`run_fragment()` let the caller send the tick while its person is thinking, as an open tab does.

What it does not do: run custom components (the sign-in cookie's iframe never reports, so a session is signed in
by its form and stays so in its server-side state, as a browser tab does between reloads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.sync.client import connect

FINISHED = ForwardMsg.ScriptFinishedStatus
TEXT_ELEMENTS = ("markdown", "heading", "alert", "caption")


class RunFailed(Exception):
    """A run did not finish, or finished drawing an exception."""


@dataclass
class Widget:
    kind: str  # the element's type: button, text_input, selectbox...
    id: str
    label: str
    form_id: str
    proto: Any


@dataclass
class Drawn:
    """What one run drew: its texts (markdown, headings, alerts, captions), exceptions and widgets."""

    texts: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # st.error's texts (a refusal, the database unreachable)
    exceptions: list[str] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    messages: int = 0
    bytes: int = 0

    def widget(self, kind: str, label: str) -> Widget:
        found = [w for w in self.widgets if w.kind == kind and w.label == label]
        if not found:
            shown = sorted({f"{w.kind}:{w.label}" for w in self.widgets})
            raise RunFailed(f"no {kind} labelled {label!r} was drawn (drawn: {shown[:20]})")
        return found[-1]

    def has_text(self, part: str) -> bool:
        return any(part in t for t in self.texts)


class StreamlitSession:
    """One websocket session with the app; not thread-safe (one thread per session)."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.url = base_url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.timeout = timeout
        self.socket = connect(self.url, subprotocols=["streamlit"], open_timeout=timeout, max_size=None)
        self.page_hash = ""
        self.pages: dict[str, str] = {}  # url path -> page script hash (from the navigation message)
        self.last = Drawn()
        self.timed_fragments: dict[str, tuple[float, float]] = {}  # fragment id -> (interval s, next tick due)

    def close(self) -> None:
        self.socket.close()

    def run(
        self,
        *,
        page_hash: str | None = None,
        states: list[WidgetState] | None = None,
        path: str = "",
        fragment_id: str = "",
    ) -> tuple[float, Drawn]:
        """Ask for a run (of `page_hash`, or the current page) and wait for it to finish; (seconds, what it drew).

        A run that ends early for a rerun the script asked for (st.rerun) is followed to the run that finishes."""
        client = ClientState(
            query_string="",
            page_script_hash=self.page_hash if page_hash is None else page_hash,
            widget_states=WidgetStates(widgets=states or []),
            context_info=ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US", url=path),
            fragment_id=fragment_id,
            is_auto_rerun=bool(fragment_id),
        )
        message = BackMsg(rerun_script=client)
        started = time.perf_counter()
        self.socket.send(message.SerializeToString())
        drawn = self._read_until_finished()
        elapsed = time.perf_counter() - started
        if not fragment_id:  # a fragment draws only itself: the page's widgets stay what the last full run drew
            self.last = drawn
        if drawn.exceptions:
            raise RunFailed(f"the run drew an exception: {drawn.exceptions[0][:200]}")
        return elapsed, drawn

    def _read_until_finished(self) -> Drawn:
        drawn = Drawn()
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunFailed(f"no run finished within {self.timeout:.0f} s")
            raw = self.socket.recv(timeout=left)
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            drawn.messages += 1
            drawn.bytes += len(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                self._note_delta(msg.delta, drawn)
            elif kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash or self.page_hash
            elif kind == "page_info_changed":
                pass
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash or self.page_hash
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "auto_rerun":
                known = self.timed_fragments.get(msg.auto_rerun.fragment_id)
                # A rerun of the page registers the fragment again; its timer keeps running, as in the frontend.
                due = known[1] if known else time.monotonic() + msg.auto_rerun.interval
                self.timed_fragments[msg.auto_rerun.fragment_id] = (msg.auto_rerun.interval, due)
            elif kind == "stop_auto_rerun":
                for fragment_id in msg.stop_auto_rerun.fragment_ids:
                    self.timed_fragments.pop(fragment_id, None)
            elif kind == "script_finished":
                if msg.script_finished in (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    return drawn
                if msg.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    raise RunFailed("the page did not compile")
                if msg.script_finished == FINISHED.FINISHED_EARLY_FOR_RERUN:
                    drawn = Drawn(messages=drawn.messages, bytes=drawn.bytes)  # the rerun draws afresh

    @staticmethod
    def _note_delta(delta, drawn: Drawn) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        body = getattr(element, kind)
        if kind == "exception":
            drawn.exceptions.append(f"{body.type}: {body.message}")
        elif kind in TEXT_ELEMENTS:
            drawn.texts.append(body.body)
            if kind == "heading":
                drawn.headings.append(body.body)
            elif kind == "alert":
                drawn.alerts.append(body.body)
                if body.format == Alert.Format.ERROR:
                    drawn.errors.append(body.body)
        elif hasattr(body, "id") and hasattr(body, "label") and body.id:
            drawn.widgets.append(Widget(kind, body.id, body.label, getattr(body, "form_id", ""), body))

    def due_fragment(self) -> tuple[str, float] | None:
        """The timed fragment whose tick comes first, with when it is due (time.monotonic()); None if none."""
        if not self.timed_fragments:
            return None
        fragment_id, (_, due) = min(self.timed_fragments.items(), key=lambda item: item[1][1])
        return fragment_id, due

    def run_fragment(self, fragment_id: str) -> tuple[float, Drawn]:
        """The fragment's timed rerun, as the open tab sends it; its next tick is one interval after this one."""
        interval, _ = self.timed_fragments[fragment_id]
        self.timed_fragments[fragment_id] = (interval, time.monotonic() + interval)
        return self.run(fragment_id=fragment_id)

    # -- what people do --------------------------------------------------------------------------------------
    def open(self) -> tuple[float, Drawn]:
        """The first load of the app (the default page)."""
        return self.run(page_hash="")

    def open_page(self, url_path: str) -> tuple[float, Drawn]:
        """Follow a menu link: a run of that page."""
        if url_path not in self.pages:
            raise RunFailed(f"no page at /{url_path} (pages: {sorted(self.pages)})")
        return self.run(page_hash=self.pages[url_path], path=url_path)

    def submit(self, button_label: str, values: dict[str, Any] | None = None) -> tuple[float, Drawn]:
        """Press a form's submit button (or any button) with `values` typed into the form's fields by label."""
        button = self.last.widget("button", button_label)
        states = [WidgetState(id=button.id, trigger_value=True)]
        for label, value in (values or {}).items():
            widget = next((w for w in self.last.widgets if w.label == label and w.kind != "button"), None)
            if widget is None:
                raise RunFailed(f"no field labelled {label!r} was drawn")
            state = WidgetState(id=widget.id)
            if isinstance(value, bool):
                state.bool_value = value
            elif isinstance(value, str):
                state.string_value = value
            else:
                state.double_value = float(value)
            states.append(state)
        return self.run(states=states)
