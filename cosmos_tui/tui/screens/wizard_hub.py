"""Wizard step 2: Hugging Face login, per-repo access, and the download with per-file progress.

Skipped for builtin models (nothing to fetch) and shown as offline when ``HF_HUB_OFFLINE`` is set.
The token is typed into a masked field and handed to ``core.hub.login``; it never appears on
screen, in a command line or in a preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import wizard_backend
from cosmos_tui.tui.commands import hub_download, hub_status
from cosmos_tui.tui.widgets.format import size


@dataclass(eq=False)
class HubStatus(Message):
    """Login state, access verdicts, and the download plan, as far as they are known."""

    account: str | None
    offline: bool
    access: tuple = ()
    plan: object | None = None
    error: str = ""


@dataclass(eq=False)
class DownloadStep(Message):
    """Progress of the download: the file, its bytes, and the total."""

    filename: str
    file_done: int
    file_total: int | None
    done: int
    total: int


@dataclass(eq=False)
class DownloadDone(Message):
    """The download ended (``error`` empty when it worked)."""

    error: str = ""


class HubStep(Vertical):
    """Login, access check and download for the model picked in step 1."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.model = None
        self.ready = False

    def compose(self) -> ComposeResult:
        yield Label("2 · Hugging Face", classes="step-title")
        yield Static("", id="hub-state")
        with Horizontal(classes="row", id="hub-login-row"):
            yield Label("Token")
            yield Input(
                placeholder="hf_… (hidden; stored by huggingface_hub)",
                password=True,
                id="hub-token",
                compact=True,
            )
            yield Button("Log in", id="hub-login", compact=True)
        yield DataTable(id="hub-access", cursor_type="row")
        with Horizontal(classes="row", id="hub-download-row"):
            yield Button("Check access", id="hub-check", compact=True)
            yield Button("Download", id="hub-download", variant="primary", compact=True)
        yield ProgressBar(id="hub-progress", show_eta=True)
        yield Static("", id="hub-file", classes="dim")

    def on_mount(self) -> None:
        self.query_one("#hub-access", DataTable).add_columns("repo", "role", "access", "what to do")
        self.query_one("#hub-progress").display = False

    def enter(self, model) -> None:
        """Show this step for ``model`` (a catalog ``ModelSpec``)."""
        self.model = model
        needs = bool(model and model.needs_hub)
        for wid in ("#hub-login-row", "#hub-access", "#hub-download-row"):
            self.query_one(wid).display = needs
        if not needs:
            self.ready = True
            self.query_one("#hub-state", Static).update(
                f"[b]{model.id if model else 'This model'}[/b] trains from scratch on the builtin engine: "
                "no Hugging Face weights are needed. [dim]Skipped.[/dim]"
            )
            return
        self.ready = False
        self.query_one("#hub-state", Static).update("Checking login and access…")
        self.refresh_status()

    @work(thread=True, exclusive=True, group="hub", name="hub status")
    def refresh_status(self) -> None:
        """Who is logged in, which repos are readable, what a download would fetch."""
        state = wizard_backend.hub_state(self.model)
        access = state.plan.access if state.plan is not None else ()
        self.post_message(HubStatus(state.account, state.offline, access, state.plan, state.error))

    def on_hub_status(self, message: HubStatus) -> None:
        table = self.query_one("#hub-access", DataTable)
        table.clear()
        for a in message.access:
            todo = (
                "" if a.ok else (f"accept the licence at {a.page_url}" if "licence" in a.status else a.detail)
            )
            table.add_row(a.repo_id, a.role, str(getattr(a.status, "value", a.status)), todo[:60])
        who = (
            "offline (HF_HUB_OFFLINE)"
            if message.offline
            else (
                f"logged in as [b]{message.account}[/b]"
                if message.account
                else "[yellow]not logged in[/yellow]"
            )
        )
        plan = message.plan
        parts = [who]
        if plan is not None:
            parts.append(
                f"{len(plan.files)} files, {size(plan.missing_bytes)} to fetch, {size(plan.free_bytes)} free"
            )
            self.ready = plan.complete
        if message.error:
            parts.append(f"[red]{message.error}[/red]")
        hint = f"\n[dim]$ {markup_safe(hub_status(self.model.id if self.model else 'MODEL'))}[/dim]"
        self.query_one("#hub-state", Static).update(" · ".join(parts) + hint)

    @on(Button.Pressed, "#hub-login")
    def _login(self) -> None:
        box = self.query_one("#hub-token", Input)
        token, box.value = box.value.strip(), ""
        if token:
            self.login(token)

    @work(thread=True, exclusive=True, group="hub", name="hub login")
    def login(self, token: str) -> None:
        """Log in with ``token`` (kept only by huggingface_hub's own token store)."""
        try:
            wizard_backend.login(token)
        except UserError as e:
            self.app.call_from_thread(self.notify, str(e), severity="error")
        self.refresh_status()

    @on(Button.Pressed, "#hub-check")
    def _check(self) -> None:
        self.refresh_status()

    @on(Button.Pressed, "#hub-download")
    def _download(self) -> None:
        self.query_one("#hub-progress").display = True
        self.download()

    @work(thread=True, exclusive=True, group="hub-dl", name="download")
    def download(self) -> None:
        """Fetch what is missing, posting progress after each chunk."""

        def progress(p) -> None:
            self.post_message(DownloadStep(p.file.filename, p.file_done, p.file_total, p.done, p.total))

        try:
            wizard_backend.download(self.model, progress)
            self.post_message(DownloadDone())
        except UserError as e:
            self.post_message(DownloadDone(str(e)))

    def on_download_step(self, message: DownloadStep) -> None:
        self.query_one("#hub-progress", ProgressBar).update(
            total=message.total or None, progress=message.done
        )
        file_total = size(message.file_total) if message.file_total else "?"
        self.query_one("#hub-file", Static).update(
            f"{markup_safe(message.filename)}: {size(message.file_done)} / {file_total}"
            f"   [dim]$ {markup_safe(hub_download(self.model.id))}[/dim]"
        )

    def on_download_done(self, message: DownloadDone) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
        else:
            self.notify("Weights downloaded.")
        self.refresh_status()
