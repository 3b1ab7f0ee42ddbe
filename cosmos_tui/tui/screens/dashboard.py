"""One run, live: status, health, GPUs, loss, log, checkpoints, disk forecast, and the actions.

Three thread workers poll through the backend: the run (1 s: the run's ``RunMonitor`` - progress,
checkpoints, processes, watchdog - and the disk forecast), the GPUs (1 s, the shared NVML sampler
with the runs' claims) and the log (0.1 s: new lines from the monitor's ``LogTail``). Each posts a
typed message with an immutable snapshot; the handlers here only hand snapshots to widgets.
Actions run in workers too: stop, save now, resume, export (after asking where), prune (after its
plan is confirmed) and, with Enter on a checkpoint, verify / export / pin / copy its path. Stop and
save now are offered only while the run is live, resume only once it has ended; the log panel's
search and navigation live in :mod:`.dashboard_log`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui.backend import ExportTarget, LogSearch, PruneProposal
from cosmos_tui.tui.commands import PRUNE_KEEP_LAST, cli, dashboard_commands
from cosmos_tui.tui.messages import (
    ActionFinished,
    ExportChecked,
    GpusUpdated,
    LogLinesArrived,
    PrunePlanned,
    RunViewUpdated,
)
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.screens.dashboard_log import LogPanelActions
from cosmos_tui.tui.screens.dialogs import ChoiceDialog, ConfirmDialog, PathDialog, TextDialog
from cosmos_tui.tui.screens.samples import SamplesScreen
from cosmos_tui.tui.state import RunView
from cosmos_tui.tui.widgets.checkpoints_table import CheckpointsTable
from cosmos_tui.tui.widgets.format import size
from cosmos_tui.tui.widgets.gpu_panel import GpuPanel
from cosmos_tui.tui.widgets.log_view import LogView
from cosmos_tui.tui.widgets.loss_chart import (
    MIN_CHART_ROWS,
    LossChart,
    chart_points,
    chart_title,
    loss_series,
    loss_short_names,
    next_metric,
)
from cosmos_tui.tui.widgets.run_header import RunHeader


def cli_commands(run_id: str, view: RunView | None) -> dict[str, str]:
    """The headless command for every dashboard action (see :mod:`cosmos_tui.tui.commands`)."""
    return dashboard_commands(run_id, view.job_dir if view else None)


def export_command(run_id: str, out_dir: str, iteration: int | None = None) -> str:
    """``ckpt export`` writing to ``out_dir`` (checkpoint ``iteration``, default the latest)."""
    at = ("--iter", iteration) if iteration is not None else ()
    return cli("ckpt", "export", run_id, *at, "--out", out_dir)


LIVE_ONLY = {"stop", "save_now"}
"""Actions that only mean something while the run is live."""
SEARCH_SAFE = {"back", "search_submit"}
"""Actions that still run while the search box has the focus (letters are the box's)."""


TALL_ROWS = 44
"""A terminal this many rows high or more gets the taller chart box (``-tall`` in app.tcss), room
for the loss chart and the tokens/s chart together."""


class DashboardScreen(LogPanelActions, Screen):
    """The live view of one run."""

    BINDINGS = [
        Binding("escape", "back", "Runs"),
        Binding("s", "stop", "Stop"),
        Binding("s", "ended('stop')", show=False),
        Binding("w", "save_now", "Save now"),
        Binding("w", "ended('save')", show=False),
        Binding("R", "resume", "Resume"),
        Binding("R", "not_resumable", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("p", "prune", "Prune", show=False),
        Binding("o", "open_preset", "Preset", show=False),
        Binding("y", "show_cli", "CLI"),
        Binding("S", "samples", "Samples"),
        Binding("f", "follow", "Follow", show=False),
        Binding("slash", "search", "Search"),
        Binding("n", "match(1)", "Next", show=False),
        Binding("N", "match(-1)", "Prev", show=False),
        Binding("E", "first_error", "First error", show=False),
        Binding("l", "level", "Level"),
        Binding("m", "next_metric", "Metric", show=False),
        Binding("Z", "smooth", "Smooth", show=False),
        Binding("z", "wrap", "Wrap", show=False),
        Binding("c", "compact", "Short prefix", show=False),
    ]
    """Keys of the dashboard (see the help screen for the commands they match)."""

    RUN_POLL_S = 1.0
    """Seconds between reads of the run's record, metrics and checkpoints."""
    GPU_POLL_S = 1.0
    """Seconds between GPU readings (NVML samples at 1-6 Hz; faster adds nothing)."""
    LOG_POLL_S = 0.1
    """Seconds between reads of new log lines."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.view: RunView | None = None
        self._wake = threading.Event()
        self._following = False
        self._search: LogSearch | None = None
        self._match: int | None = None
        self.polls = 0
        """Run snapshots received (tests wait on it)."""
        self.metric = "loss"
        """What the chart shows (``m`` cycles through :data:`.loss_chart.CHART_METRICS`)."""
        self.smooth = False
        """Whether the chart is smoothed (EMA; ``z`` toggles)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunHeader(id="run-header")
        yield GpuPanel(id="gpus")
        with Horizontal(id="dash-middle"):
            with Vertical(id="loss-box"):
                yield LossChart(id="loss-chart")
                yield LossChart(id="tokens-chart", label="tokens/s", empty="no tokens/s reported yet")
            yield CheckpointsTable(id="ckpt-table")
        yield LogView(id="log")
        yield Input(placeholder="search the log (enter to apply, empty to clear)", id="log-search")
        yield Static(
            "$ " + printable(cli_commands(self.run_id, None)["logs"]),
            id="cli-hint",
            classes="cli-line",
            markup=False,
        )
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = self.run_id
        self.query_one("#loss-box").border_title = "loss"
        self.query_one("#ckpt-table").border_title = "checkpoints"
        self.query_one("#log").border_title = "console.log"
        self.query_one("#log-search").display = False
        self.query_one("#tokens-chart").display = False
        self.poll_run()
        self.poll_gpus()

    # -- pollers -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="dash-run", name="run poller")
    def poll_run(self) -> None:
        """Read the run's record, metrics and checkpoints every second."""
        backend = self.app.backend  # type: ignore[attr-defined]

        def on_error(e: Exception) -> None:
            if isinstance(e, UserError):
                self.app.call_from_thread(self.notify, str(e), severity="error")
            return None

        poll(
            lambda: RunViewUpdated(backend.run_view(self.run_id)),
            self.post_message,
            self.RUN_POLL_S,
            wake=self._wake,
            on_error=on_error,
        )

    @work(thread=True, exclusive=True, group="dash-gpus", name="gpu poller")
    def poll_gpus(self) -> None:
        """Read the GPUs every second."""
        backend = self.app.backend  # type: ignore[attr-defined]
        poll(lambda: GpusUpdated(backend.gpus()), self.post_message, self.GPU_POLL_S)

    @work(thread=True, exclusive=True, group="dash-log", name="log follower")
    def follow_log(self) -> None:
        """Send new console lines ten times a second, in one batch each."""
        backend = self.app.backend  # type: ignore[attr-defined]
        cursor: list[int | None] = [None]

        def produce() -> LogLinesArrived | None:
            batch = backend.log_batch(self.run_id, cursor[0], limit=LogView.CAPACITY)
            cursor[0] = batch.next_seq
            if not (batch.lines or batch.skipped):
                return None
            return LogLinesArrived(batch.lines, batch.skipped, batch.end_offset)

        poll(produce, self.post_message, self.LOG_POLL_S)

    # -- snapshots in ------------------------------------------------------------------------

    def on_run_view_updated(self, message: RunViewUpdated) -> None:
        view = message.view
        ended_before = None if self.view is None else not self.view.row.active
        self.view = view
        self.polls += 1
        now = self.app.backend.clock()  # type: ignore[attr-defined]
        self.query_one(RunHeader).show(view)
        self._draw_chart()
        if view.tokens:
            self.query_one("#tokens-chart", LossChart).series = {"tokens/s": view.tokens}
        self._fit_tokens_chart()
        self.query_one(CheckpointsTable).show(view.checkpoints, now)
        self.query_one("#ckpt-table").border_subtitle = str(len(view.checkpoints))
        if ended_before is None or ended_before != (not view.row.active):
            self.refresh_bindings()  # stop / save now / resume follow the run's state
        if not self._following:
            self._following = True
            self.follow_log()

    def on_resize(self) -> None:
        self.set_class(self.size.height >= TALL_ROWS, "-tall")  # a taller chart box (app.tcss)
        self.call_after_refresh(self._fit_tokens_chart)

    def _fit_tokens_chart(self) -> None:
        """Show the tokens/s chart under the loss chart only when the engine reports it and the
        box holds both readably (a short terminal keeps the loss chart whole; `m` still reaches
        tokens/s)."""
        box = self.query_one("#loss-box")
        fits = box.content_size.height >= 2 * MIN_CHART_ROWS
        self.query_one("#tokens-chart").display = bool(self.view and self.view.tokens) and fits

    def _metrics(self) -> dict[str, Any]:
        """The run's metric series, tokens/s taken from the log when ``metrics.jsonl`` has none."""
        if self.view is None:
            return {}
        return {
            **self.view.metrics,
            "tokens_per_s": self.view.metrics.get("tokens_per_s") or self.view.tokens,
        }

    def _draw_chart(self) -> None:
        view = self.view
        if view is None:
            return
        points = chart_points(self.metric, view.losses, self._metrics(), smooth=self.smooth)
        chart = self.query_one("#loss-chart", LossChart)
        series, chart.curve_styles, chart.curve_short = {view.row.id: points}, {}, {}
        if self.metric == "loss":  # the held-out loss and the dimmed reference beside it
            val = view.metrics.get("val_loss", ())
            series, chart.curve_styles = loss_series(
                "train loss", points, val, view.reference, view.reference_label
            )
            chart.curve_short = loss_short_names("train loss", view.reference_label)
        chart.series = series
        self.query_one("#loss-box").border_title = chart_title(self.metric, self.smooth)

    def action_next_metric(self) -> None:
        """Chart the next metric the run reports (loss, lr, grad norm, throughput, memory)."""
        self.metric = next_metric(self.metric, self._metrics())
        self._draw_chart()

    def action_smooth(self) -> None:
        """Smooth the chart (EMA) or show the raw points."""
        self.smooth = not self.smooth
        self._draw_chart()

    def on_gpus_updated(self, message: GpusUpdated) -> None:
        self.query_one(GpuPanel).show(message.snapshot)

    def on_log_lines_arrived(self, message: LogLinesArrived) -> None:
        log = self.query_one(LogView)
        log.add_lines(message.lines, end_offset=message.end_offset)
        if message.skipped:
            log.skipped += message.skipped
            self._log_subtitle()

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.action == "copy" and message.ok:
            self.app.copy_to_clipboard(message.message)
            self.notify(markup_safe(f"Copied the path: {message.message}"))
            return
        self.notify(markup_safe(message.message), severity="information" if message.ok else "error")
        self._wake.set()
        if message.ok and message.action == "resume" and message.run_id:
            self.app.open_run(message.run_id, replace=True)  # type: ignore[attr-defined]

    # -- which actions make sense -------------------------------------------------------------

    def _ended(self) -> bool:
        return self.view is not None and not self.view.row.active

    def _at_max_iter(self) -> bool:
        row = self.view.row if self.view else None
        return bool(
            row and row.status == "finished" and row.max_iter and (row.iteration or 0) >= row.max_iter
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop and save now only while the run is live, resume only once it has ended (and has
        iterations left); the other binding of each key says why. While the search box has the
        focus, its letters are text, never the screen's keys."""
        box = self.query("#log-search")
        if box and self.focused is box.first() and action not in SEARCH_SAFE:
            return False
        if action in LIVE_ONLY:
            return not self._ended()
        if action == "ended":
            return self._ended()
        if action == "resume":
            return self._ended() and not self._at_max_iter()
        if action == "not_resumable":
            return not self._ended() or self._at_max_iter()
        return True

    def action_ended(self, what: str) -> None:
        status = self.view.row.status if self.view else "ended"
        doing = {"stop": "there is nothing to stop", "save": "only a running run can save a checkpoint"}
        self.notify(f"The run has ended ({status}); {doing.get(what, 'nothing to do')}.", severity="warning")

    def action_not_resumable(self) -> None:
        if not self._ended():
            self.notify("The run is still going; stop it first to resume later.", severity="warning")
            return
        row = self.view.row  # type: ignore[union-attr]
        self.notify(
            f"The run finished all {row.max_iter} iterations, so a resume trains nothing; to train "
            f"longer: cosmos-tui runs resume {self.run_id} --set trainer.max_iter={2 * (row.max_iter or 1)}",
            severity="warning",
        )

    # -- actions -----------------------------------------------------------------------------

    def _hint(self, key: str) -> None:
        command = cli_commands(self.run_id, self.view)[key]
        self.query_one("#cli-hint", Static).update("$ " + printable(command))

    def action_back(self) -> None:
        """Escape: close the search (box, then highlights) before leaving the dashboard."""
        box = self.query_one("#log-search", Input)
        if box.display:
            box.display = False
            self._clear_search()
            self.query_one(LogView).focus()
            return
        if self._search is not None:
            self._clear_search()
            return
        self.app.pop_screen()

    def action_stop(self) -> None:
        self._hint("stop")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_action("stop")

        self.app.push_screen(
            ConfirmDialog(
                f"Stop {self.run_id}? The engine saves a checkpoint first.",
                cli_commands(self.run_id, self.view)["stop"],
                yes="Stop",
            ),
            confirmed,
        )

    def action_save_now(self) -> None:
        self._hint("save")
        self.run_action("save")

    def action_resume(self) -> None:
        self._hint("resume")
        self.run_action("resume")

    def action_export(self, iteration: int | None = None) -> None:
        """Ask where to export (default ``JOB/export``), then check what it would replace."""
        self._hint("export")
        job = self.view.job_dir if self.view and self.view.job_dir else None
        if job is None:
            self.notify("This run has no job folder yet, so there is nothing to export.", severity="error")
            return
        default = str(Path(job) / "export")
        which = f"iteration {iteration}" if iteration is not None else "the latest complete checkpoint"

        def chosen(out: str | None) -> None:
            if out:
                self.check_export(out, iteration)

        self.app.push_screen(
            PathDialog(
                f"Export {which} to which folder? (a relative path is inside the job folder)",
                default,
                export_command(self.run_id, default, iteration),
                ok="Export",
            ),
            chosen,
        )

    def on_export_checked(self, message: ExportChecked) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            return
        target = message.target
        assert target is not None
        what = f"iteration {target.iteration} ({size(target.size_bytes)})"
        if not target.existing:
            self.notify(markup_safe(f"Exporting {what} to {target.out_dir} ..."))
            self.run_action("export", target=target)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_action("export-overwrite", target=target)

        self.app.push_screen(
            ConfirmDialog(
                f"Replace the exported files with {what}?",
                export_command(self.run_id, str(target.out_dir), target.iteration) + " --yes",
                yes="Replace",
                details=f"{printable(str(target.out_dir))} already holds:\n"
                + "\n".join(f"  {printable(name)}" for name in target.existing),
            ),
            confirmed,
        )

    # -- one checkpoint: Enter on its row -------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "ckpt-table" or event.row_key.value is None:
            return
        event.stop()
        iteration = int(event.row_key.value)
        row = (
            next((c for c in self.view.checkpoints if c.iteration == iteration), None) if self.view else None
        )
        if row is None:
            return
        state = "complete" if row.complete else "still being written or incomplete"
        tags = [t for t, on in (("latest", row.is_latest), ("pinned", row.pinned)) if on]
        choices = [
            ("verify", "Verify (metadata and every shard)"),
            ("export", "Export this checkpoint…"),
            ("unpin", "Unpin (prune may delete it)") if row.pinned else ("pin", "Pin (prune keeps it)"),
            ("copy", "Copy its path"),
        ]

        def chosen(what: str | None) -> None:
            if what == "export":
                self.action_export(iteration)
            elif what:
                self.checkpoint_action(what, iteration)

        self.app.push_screen(
            ChoiceDialog(
                f"Checkpoint iteration {iteration}",
                choices,
                details=f"{size(row.size_bytes)}, {state}" + (f" ({', '.join(tags)})" if tags else ""),
            ),
            chosen,
        )

    @work(thread=True, group="dash-action", name="checkpoint action")
    def checkpoint_action(self, what: str, iteration: int) -> None:
        """Verify, pin, unpin or find the path of one checkpoint through core, off the event loop."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            if what == "verify":
                ok, sentence = backend.verify(self.run_id, iteration)
                msg = ActionFinished("verify", sentence, ok=ok)
            elif what in ("pin", "unpin"):
                msg = ActionFinished(what, backend.set_pinned(self.run_id, iteration, what == "pin"))
            elif what == "copy":
                msg = ActionFinished("copy", str(backend.checkpoint_path(self.run_id, iteration)))
            else:
                raise ValueError(f"unknown checkpoint action {what!r}")
        except UserError as e:
            msg = ActionFinished(what, str(e), ok=False)
        self.post_message(msg)

    def action_prune(self) -> None:
        self._hint("prune")
        self.plan_prune()

    def on_prune_planned(self, message: PrunePlanned) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            return
        proposal = message.proposal
        plan = proposal.plan
        if not plan.to_delete:
            self.notify("Nothing to prune: every checkpoint is one to keep.")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_action("prune", proposal)

        self.app.push_screen(
            ConfirmDialog(
                f"Delete {len(plan.to_delete)} checkpoint(s), freeing {size(plan.bytes_freed)}? "
                "The latest, pinned and in-progress ones are kept.",
                cli_commands(self.run_id, self.view)["prune"],
                yes="Delete",
                details=prune_plan_text(proposal),
            ),
            confirmed,
        )

    def action_open_preset(self) -> None:
        self._hint("show")
        text = self.view.preset_text if self.view and self.view.preset_text else "(no preset recorded)"
        command = self.view.command if self.view else ""
        self.app.push_screen(TextDialog(f"Preset of {self.run_id}", f"{text}\n# command\n{command}"))

    def action_samples(self) -> None:
        self.app.push_screen(SamplesScreen(self.run_id))

    def action_show_cli(self) -> None:
        cmds = cli_commands(self.run_id, self.view)
        self.app.push_screen(
            TextDialog("Equivalent commands", "\n".join(f"# {k}\n{v}" for k, v in cmds.items()))
        )

    @work(thread=True, exclusive=True, group="dash-check", name="checkpoint check")
    def check_export(self, out_dir: str, iteration: int | None = None) -> None:
        """Find the checkpoint an export would read, and what it would replace."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            target = backend.export_target(self.run_id, out_dir=out_dir, iteration=iteration)
            self.post_message(ExportChecked(target))
        except UserError as e:
            self.post_message(ExportChecked(error=str(e)))

    @work(thread=True, exclusive=True, group="dash-check", name="prune planner")
    def plan_prune(self) -> None:
        """Work out what a prune would delete (deleting waits for the person's yes)."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            self.post_message(PrunePlanned(backend.plan_prune(self.run_id, keep_last=PRUNE_KEEP_LAST)))
        except UserError as e:
            self.post_message(PrunePlanned(error=str(e)))

    @work(thread=True, group="dash-action", name="run action")
    def run_action(
        self, action: str, proposal: PruneProposal | None = None, *, target: ExportTarget | None = None
    ) -> None:
        """Stop, save now, resume, export or prune (a confirmed ``proposal``) through core, off
        the event loop."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            if action == "stop":
                msg = ActionFinished(action, backend.stop(self.run_id))
            elif action == "save":
                msg = ActionFinished(action, backend.save_now(self.run_id))
            elif action in ("export", "export-overwrite") and target is not None:
                done = backend.export(
                    self.run_id,
                    out_dir=target.out_dir,
                    iteration=target.iteration,
                    overwrite=action == "export-overwrite",
                )
                msg = ActionFinished("export", done)
            elif action == "prune" and proposal is not None:  # only a plan the person confirmed
                msg = ActionFinished(action, backend.apply_prune(proposal))
            elif action == "resume":
                new_id = backend.resume(self.run_id)
                msg = ActionFinished(action, f"Resumed as {new_id}.", run_id=new_id)
            else:
                raise ValueError(f"unknown dashboard action {action!r}")
        except UserError as e:
            msg = ActionFinished(action, str(e), ok=False)
        self.post_message(msg)


def prune_plan_text(proposal: PruneProposal) -> str:
    """One line per checkpoint: kept or deleted, its size, and why (as ``ckpt prune`` prints it)."""
    lines = []
    for d in proposal.plan.decisions:
        verb = "keep  " if d.keep else "delete"
        nbytes = size(d.checkpoint.size_bytes)
        lines.append(f"{verb} {d.checkpoint.iteration:>10}  {nbytes:>9}  ({printable(d.reason)})")
    return "\n".join(lines)
