"""Wizard step 2: the engine checkout (upstream engines), Hugging Face login, per-repo access,
and the download with per-file progress.

Skipped for builtin models (nothing to fetch) and shown as offline when ``HF_HUB_OFFLINE`` is set.
"Elsewhere" lets a person whose checkout and weights are on another machine (a cluster) go on to
build the preset and its commands without either being here. The token is typed into a masked
field and handed to ``core.hub.login``; it never appears on screen, in a command line or in a
preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, DataTable, Input, Label, ProgressBar, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import commands, wizard_backend
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
    """Checkout, login, access check and download for the model picked in step 1."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.model = None
        self.ready = False
        """The weights are on disk (or not needed, or on another machine)."""
        self.blocker: str | None = None
        """Why Next is refused here, in the words the step shows (``None``: it is not)."""

    def compose(self) -> ComposeResult:
        yield Label("2 · Hugging Face", classes="step-title")
        with Horizontal(classes="row", id="hub-checkout-row"):
            yield Label("Checkout")
            yield Input(placeholder="/path/to/the upstream repo's clone", id="hub-checkout", compact=True)
        yield Checkbox(
            "The checkout and weights are on another machine: only build the preset and its commands",
            id="hub-elsewhere",
            compact=True,
        )
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

    @property
    def checkout(self) -> str | None:
        """The engine checkout typed in (``None``: none, or the model needs none)."""
        if self.model is None or not wizard_backend.needs_checkout(self.model):
            return None
        return self.query_one("#hub-checkout", Input).value.strip() or None

    @property
    def elsewhere(self) -> bool:
        """The person builds the preset here and runs it on another machine."""
        return self.query_one("#hub-elsewhere", Checkbox).value and self.query_one("#hub-elsewhere").display

    def enter(self, model) -> None:
        """Show this step for ``model`` (a catalog ``ModelSpec``)."""
        self.model = model
        needs = bool(model and model.needs_hub)
        upstream = bool(model and wizard_backend.needs_checkout(model))
        self.query_one("#hub-checkout-row").display = upstream
        self.query_one("#hub-elsewhere").display = upstream
        for wid in ("#hub-login-row", "#hub-access", "#hub-download-row"):
            self.query_one(wid).display = needs and not self.elsewhere
        if not needs and not upstream:
            self.ready, self.blocker = True, None
            self.query_one("#hub-state", Static).update(
                f"[b]{markup_safe(model.id) if model else 'This model'}[/b] trains from scratch on the "
                "builtin engine: no Hugging Face weights are needed. [dim]Skipped.[/dim]"
            )
            return
        self.ready = False
        self.blocker = "Checking login and access…"
        self.query_one("#hub-state", Static).update("Checking login and access…")
        self.refresh_status()

    @on(Checkbox.Changed, "#hub-elsewhere")
    def _elsewhere(self) -> None:
        if self.model is not None:
            self.enter(self.model)

    @on(Input.Submitted, "#hub-checkout")
    def _checkout_given(self) -> None:
        if self.model is not None:
            self.enter(self.model)

    @work(thread=True, exclusive=True, group="hub", name="hub status")
    def refresh_status(self) -> None:
        """Who is logged in, which repos are readable, what a download would fetch."""
        model, checkout, elsewhere = self.model, self.checkout, self.elsewhere
        problem = None
        if checkout and not elsewhere:
            problem = wizard_backend.checkout_problem(model, checkout)
        if elsewhere or not model.needs_hub:
            self.post_message(HubStatus(None, False, error=problem or "", plan=None))
            return
        state = wizard_backend.hub_state(model, checkout)
        access = state.plan.access if state.plan is not None else ()
        error = "; ".join(e for e in (problem, state.error) if e)
        self.post_message(HubStatus(state.account, state.offline, access, state.plan, error))

    def _status_line(self, message: HubStatus) -> tuple[str, str | None]:
        """The step's verdict in words, and why Next is refused (``None``: it is not)."""
        model = self.model
        if self.elsewhere:
            self.ready = True
            return (
                "[b]Elsewhere[/b]: nothing is checked or downloaded here; the next steps build the "
                "preset and the commands to run on the machine that has the checkout and weights.",
                None,
            )
        line, why = self._weights_line(message) if model.needs_hub else ("", None)
        self.ready = why is None  # the weights' part (the download test waits on it)
        if wizard_backend.needs_checkout(model) and not self.checkout:
            need = f"Give the {model.engine} checkout's folder (or tick 'another machine')."
            line = f"{line}\n[yellow]{need}[/yellow]" if line else f"[yellow]{need}[/yellow]"
            why = need if message.plan is None else (why or need)
        elif message.error:
            line = (
                f"{line}\n[red]{markup_safe(message.error)}[/red]"
                if line
                else f"[red]{markup_safe(message.error)}[/red]"
            )
            why = why or message.error
        elif not model.needs_hub:
            line = "The checkout is there; this model needs no Hugging Face weights."
        return line, why

    def _weights_line(self, message: HubStatus) -> tuple[str, str | None]:
        """Login and download state in words, and why Next is refused (``None``: it is not)."""
        who = (
            "offline (HF_HUB_OFFLINE)"
            if message.offline
            else (
                f"logged in as [b]{markup_safe(message.account)}[/b]"
                if message.account
                else "[yellow]not logged in[/yellow]"
            )
        )
        plan = message.plan
        if plan is None:
            return who, "The download plan could not be made; check access again."
        missing = len(plan.missing)
        if plan.complete:
            return f"{who} · all {len(plan.files)} files on disk ({size(plan.total_bytes)})", None
        if message.offline:
            why = (
                f"Offline (HF_HUB_OFFLINE): {missing} of {len(plan.files)} files are not on disk and "
                "cannot be fetched; go online to download them, or tick 'another machine'."
            )
            return f"{who} · [yellow]{why}[/yellow]", why
        fetch = (
            f"{missing} of {len(plan.files)} files, {size(plan.missing_bytes)} to fetch, "
            f"{size(plan.free_bytes)} free"
        )
        blocked = [a for a in message.access if not a.ok]
        why = (
            "Accept the licences listed below (or log in), then Download."
            if blocked
            else "Download the missing files (or tick 'another machine')."
        )
        return f"{who} · {fetch}", why

    def on_hub_status(self, message: HubStatus) -> None:
        table = self.query_one("#hub-access", DataTable)
        table.clear()
        for a in message.access:
            todo = (
                "" if a.ok else (f"accept the licence at {a.page_url}" if "licence" in a.status else a.detail)
            )
            table.add_row(a.repo_id, a.role, str(getattr(a.status, "value", a.status)), todo[:60])
        line, self.blocker = self._status_line(message)
        command = commands.hub_access(self.model.id, self.checkout)
        hint = f"\n[dim]$ {markup_safe(command)}[/dim]" if self.model.needs_hub and not self.elsewhere else ""
        self.query_one("#hub-state", Static).update(line + hint)
        for wid in ("#hub-login-row", "#hub-access", "#hub-download-row"):
            self.query_one(wid).display = self.model.needs_hub and not self.elsewhere

    @on(Button.Pressed, "#hub-login")
    def _login(self) -> None:
        box = self.query_one("#hub-token", Input)
        token, box.value = box.value.strip(), ""
        if token:
            self.query_one("#hub-state", Static).update("Logging in…")
            self.login(token)

    @work(thread=True, exclusive=True, group="hub", name="hub login")
    def login(self, token: str) -> None:
        """Log in with ``token`` (kept only by huggingface_hub's own token store)."""
        try:
            wizard_backend.login(token)
        except UserError as e:
            self.post_message(HubStatus(None, False, error=f"Login failed: {e}"))
            return
        self.refresh_status()

    @on(Button.Pressed, "#hub-check")
    def _check(self) -> None:
        self.refresh_status()

    @on(Button.Pressed, "#hub-download")
    def _download(self) -> None:
        self.query_one("#hub-progress").display = True
        self.query_one("#hub-file", Static).update("Starting the download…")
        self.download()

    @work(thread=True, exclusive=True, group="hub-dl", name="download")
    def download(self) -> None:
        """Fetch what is missing, posting progress after each chunk."""

        def progress(p) -> None:
            self.post_message(DownloadStep(p.file.filename, p.file_done, p.file_total, p.done, p.total))

        try:
            wizard_backend.download(self.model, progress, self.checkout)
            self.post_message(DownloadDone())
        except UserError as e:
            self.post_message(DownloadDone(str(e)))

    def on_download_step(self, message: DownloadStep) -> None:
        self.query_one("#hub-progress", ProgressBar).update(
            total=message.total or None, progress=message.done
        )
        file_total = size(message.file_total) if message.file_total else "?"
        checkout = self.checkout
        into = (
            f"{checkout}/checkpoints" if checkout and wizard_backend.weights_in_checkout(self.model) else None
        )
        command = commands.hub_download(self.model.id, checkout, into)
        self.query_one("#hub-file", Static).update(
            f"{markup_safe(message.filename)}: {size(message.file_done)} / {file_total}"
            f"   [dim]$ {markup_safe(command)}[/dim]"
        )

    def on_download_done(self, message: DownloadDone) -> None:
        # the bar stops either way: a failed download must not look like one still going
        self.query_one("#hub-progress").display = False
        line = self.query_one("#hub-file", Static)
        if message.error:
            line.update(f"[red]Download failed: {markup_safe(message.error)}[/red]")
        else:
            line.update("[green]Weights downloaded.[/green]")
        self.refresh_status()
