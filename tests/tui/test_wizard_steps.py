"""The wizard as a person meets it, step by step (Pilot): upstream engines reach the end (a
checkout field, an 'elsewhere' path that builds the preset and its commands), the form starts
from the shipped preset so it renders what `preset render` prints, validation goes stale when
anything upstream of it changes, Esc/q never lose the wizard and a draft is kept, overrides take
quoted values, a relative output root is refused, and the Launch step lists failures first."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_for
from rich.console import Console
from support.replay_engine.checkout import make_fake_checkout
from textual.widgets import Checkbox, Input

from cosmos_tui.core.launch import render
from cosmos_tui.core.preflight import Check
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset
from cosmos_tui.tui.screens.dialogs import ConfirmDialog
from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.wizard_data import DataStep
from cosmos_tui.tui.screens.wizard_hub import HubStep
from cosmos_tui.tui.screens.wizard_launch import LaunchStep
from cosmos_tui.tui.screens.wizard_model import ModelStep
from cosmos_tui.tui.screens.wizard_setup import SetupStep

pytestmark = pytest.mark.timeout(180)


async def _wizard(pilot, model_id: str) -> NewRunScreen:
    app = pilot.app
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen))
    wizard = app.screen
    await wait_for(pilot, lambda: wizard.query_one("#model-table").row_count > 0)
    assert wizard.query_one(ModelStep).select_model(model_id)
    await pilot.pause()
    return wizard


def _text(wizard: NewRunScreen, selector: str) -> str:
    return str(wizard.query_one(selector).render())


async def _next(pilot, wizard: NewRunScreen) -> None:
    await pilot.press("ctrl+n")
    await pilot.pause(0.1)


async def test_predict1_needs_a_checkout_or_elsewhere_and_ends_in_the_shipped_command(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "predict1-7b-s2mv-text2world")
        await _next(pilot, wizard)
        hub = wizard.query_one(HubStep)
        assert wizard.step == 1 and wizard.query_one("#hub-checkout-row").display
        await wait_for(pilot, lambda: hub.blocker and "checkout" in hub.blocker)
        assert "--checkpoint-dir" not in _text(wizard, "#hub-state")  # no such field here
        await _next(pilot, wizard)
        assert wizard.step == 1  # refused, saying what to give
        # An empty folder is no checkout: said in the step, Next still refused.
        empty = tmp_path / "empty"
        empty.mkdir()
        wizard.query_one("#hub-checkout", Input).value = str(empty)
        wizard.query_one("#hub-checkout", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "holds no cosmos-predict1 checkout" in _text(wizard, "#hub-state"))
        await _next(pilot, wizard)
        assert wizard.step == 1
        # The checkout and weights are on the cluster: build the preset and commands only.
        wizard.query_one("#hub-elsewhere", Checkbox).value = True
        wizard.query_one("#hub-checkout", Input).value = "/cluster/cosmos-predict1"  # its path there
        await wait_for(pilot, lambda: hub.ready)
        await _next(pilot, wizard)
        assert wizard.step == 2
        # The data is on the cluster too: a path is enough (validated there, by its preflight).
        wizard.query_one("#data-root").value = "/cluster/waymo"
        await _next(pilot, wizard)
        assert wizard.step == 3
        setup = wizard.query_one(SetupStep)
        await wait_for(pilot, lambda: setup.preset is not None)
        assert setup.start_name == "predict1-s2mv-text2world"
        expected = apply_sets(load_preset(resolve_preset("predict1-s2mv-text2world")), setup.sets)
        assert setup.preset == expected
        assert setup.sets == ["engine.repo=/cluster/cosmos-predict1", "data.root=/cluster/waymo"]
        preview = _text(wizard, "#command-preview")
        assert (
            "cosmos-tui run predict1-s2mv-text2world --set engine.repo=/cluster/cosmos-predict1 "
            "--set data.root=/cluster/waymo"
        ) in preview
        away = expected.model_copy(deep=True)
        away.launch.target = "slurm"
        assert render(away).argv[-1] in preview  # the shipped preset's own command
        await _next(pilot, wizard)
        assert wizard.step == 4
        assert not wizard.query_one("#launch-go").display
        assert "Nothing is launched here" in _text(wizard, "#launch-summary")


async def test_transfer25_offline_says_what_is_missing_not_0_b(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    checkout = make_fake_checkout(tmp_path, "cosmos-transfer2.5")
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "transfer2.5-2b-edge")
        await _next(pilot, wizard)
        hub = wizard.query_one(HubStep)
        wizard.query_one("#hub-checkout", Input).value = str(checkout)
        wizard.query_one("#hub-checkout", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: hub.blocker and "Offline" in hub.blocker, timeout=30)
        state = _text(wizard, "#hub-state")
        assert "files are not on disk" in state and "0 B to fetch" not in state
        await _next(pilot, wizard)
        assert wizard.step == 1
        notes = [n.message for n in app._notifications]
        assert any("Offline" in m for m in notes), notes  # the refusal says the same thing


async def test_validation_goes_stale_when_the_model_changes(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        await _next(pilot, wizard)
        await _next(pilot, wizard)
        data = wizard.query_one(DataStep)
        wizard.query_one("#data-root").value = str(tmp_path / "waymo")
        await pilot.click("#data-synth")
        await wait_for(pilot, lambda: data.report is not None, timeout=60)
        assert data.report.ok
        assert not wizard.query_one("#data-progress").display  # the bar stops with the work
        # Back to the model step, pick the 2B model (it needs longer clips than the tiny set has).
        await pilot.press("escape")
        await pilot.press("escape")
        assert wizard.step == 0
        assert wizard.query_one(ModelStep).select_model("builtin-s2mv-2b")
        await _next(pilot, wizard)
        await _next(pilot, wizard)
        assert wizard.step == 2 and data.report is None and data.stale
        assert "validate again" in _text(wizard, "#data-summary")
        await _next(pilot, wizard)
        assert wizard.step == 2  # refused: the old report was for the tiny model
        # A changed folder also invalidates it.
        wizard.query_one(ModelStep).select_model("builtin-s2mv-tiny")
        data.enter(wizard.query_one(ModelStep).selected, "s2mv_text2world_tiny")
        assert data.report is not None
        wizard.query_one("#data-root").value = str(tmp_path / "other")
        await pilot.pause()
        assert data.report is None and "validate again" in _text(wizard, "#data-summary")


async def test_q_and_esc_never_lose_the_wizard_and_a_draft_is_kept(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        await _next(pilot, wizard)
        await _next(pilot, wizard)
        wizard.query_one("#data-root").value = str(tmp_path / "mine")
        wizard.query_one("#data-validate").focus()  # a button has the focus: q used to quit
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and app.screen is wizard
        await pilot.press("escape")  # back one step, not out
        assert app.screen is wizard and wizard.step == 1
        await pilot.press("escape")
        await pilot.press("escape")  # on the first step: asks
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")  # no: still in the wizard
        assert app.screen is wizard
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, (NewRunScreen, ConfirmDialog)))
        # Reopened: the model and the folder are as they were left.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen))
        again = app.screen
        assert again is not wizard
        await wait_for(pilot, lambda: again.query_one(ModelStep).selected is not None)
        await wait_for(pilot, lambda: again.query_one(ModelStep).selected.id == "builtin-s2mv-tiny")
        assert again.query_one("#data-root", Input).value == str(tmp_path / "mine")


async def test_the_form_takes_quoted_values_and_refuses_a_relative_output_root(make_app) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        setup = wizard.query_one(SetupStep)
        setup.enter(wizard.query_one(ModelStep).selected, "/data/waymo", "predict1-waymo")
        await pilot.pause()
        assert setup.start_name == "builtin-demo"  # the first shipped preset for the model
        overrides = wizard.query_one("#setup-overrides", Input)
        overrides.value = "trainer.max_iter=7 'job.group=my group'"
        await pilot.pause()
        assert setup.preset is not None, setup.error
        assert setup.preset.experiment.overrides[-2:] == ["trainer.max_iter=7", "job.group=my group"]
        assert "'job.group=my group'" in _text(wizard, "#command-preview")
        overrides.value = "trainer.max_iter=7 'job.group=my group"
        await pilot.pause()
        assert setup.preset is None and "quotation" in setup.error
        assert "no command until the form is valid" in _text(wizard, "#command-preview")
        overrides.value = ""
        wizard.query_one("#setup-output", Input).value = "runs/out"
        await pilot.pause()
        assert setup.preset is None and "relative path" in setup.error


async def test_launch_lists_failures_and_warnings_first_and_whole(make_app) -> None:
    long = "a finding long enough to be cut at the right edge of a 100-column terminal " * 3 + "END"
    checks = (
        Check("preset", "ok", "valid"),
        Check("dataset", "ok", "fine"),
        Check("dryrun", "warn", long),
        Check("gpus", "fail", "no NVIDIA GPU visible, and the engine needs 8"),
    )
    table = LaunchStep.checks_table(checks)
    names = list(table.columns[0].cells)
    assert names == ["gpus", "dryrun", "preset", "dataset"]
    app = make_app(gpus=0)
    async with app.run_test(size=(100, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        launch = wizard.query_one(LaunchStep)
        from cosmos_tui.tui.screens.wizard_launch import PreflightDone

        launch.post_message(PreflightDone(checks))
        await pilot.pause(0.2)
        wizard.step = 4
        wizard._show()
        await pilot.pause(0.2)
        summary = _text(wizard, "#launch-summary")
        assert "1 check(s) fail" in summary
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(LaunchStep.checks_table(checks))
        assert "END" in console.export_text()  # wrapped at 100 columns, not cut
        assert wizard.query_one("#launch-go").disabled


def test_saved_presets_run_by_name(tmp_path: Path) -> None:
    from cosmos_tui.core.errors import UserError
    from cosmos_tui.core.presets import save_named_preset, saved_presets

    preset = load_preset(resolve_preset("builtin-demo"))
    path = save_named_preset(preset, "my-run")
    assert resolve_preset("my-run") == path and saved_presets() == {"my-run": path}
    assert os.environ.get("COSMOS_TUI_HOME") and path.is_relative_to(os.environ["COSMOS_TUI_HOME"])
    for bad in ("../x", "a/b", "", ".hidden", "x\ny", "builtin-demo"):
        with pytest.raises(UserError):
            save_named_preset(preset, bad)
    with pytest.raises(UserError, match="already exists"):
        save_named_preset(preset, "my-run")


async def test_a_truncated_draft_is_passed_over_with_a_note(make_app) -> None:
    from cosmos_tui.core.paths import state_root
    from cosmos_tui.tui import wizard_backend

    draft = state_root() / wizard_backend.DRAFT_FILE
    draft.parent.mkdir(parents=True, exist_ok=True)
    draft.write_text('{"model": "builtin-s2mv-tiny", "data_root": "/da')  # cut by a kill -9
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        notes = [n.message for n in app._notifications]
        assert any("draft" in m and "unreadable" in m for m in notes), notes
        assert wizard.query_one("#data-root", Input).value == ""  # nothing half-restored
        await _next(pilot, wizard)  # the wizard works on, and writes a whole draft again
        assert wizard.step == 1
    assert wizard_backend.load_draft() == (json.loads(draft.read_text()), None)
    # A draft of the wrong shape (hand-edited): what is no field's value is dropped, nothing raises.
    draft.write_text(
        json.dumps({"model": ["x"], "layout": {"a": 1}, "data_root": "/d", "setup": {"start": []}})
    )
    assert wizard_backend.load_draft() == ({"data_root": "/d", "setup": {}}, None)
    async with make_app(gpus=0).run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        assert wizard.query_one("#data-root", Input).value == "/d"


def test_kill_9_while_the_draft_is_written_leaves_a_whole_draft(tmp_path: Path) -> None:
    """A writer killed at random moments in a loop of draft writes: the file read after each kill
    is always a whole draft (the old one or the new one), never a truncated one."""
    from cosmos_tui.core.paths import state_root
    from cosmos_tui.tui import wizard_backend

    wizard_backend.save_draft({"model": "first", "pad": ""})
    writer = (
        "import itertools\n"
        "from cosmos_tui.tui import wizard_backend\n"
        "print('ready', flush=True)\n"
        "for i in itertools.count():\n"
        "    wizard_backend.save_draft({'model': f'm{i}', 'pad': 'x' * 40000})\n"
    )
    for delay in (0.05, 0.13, 0.21, 0.34):
        proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        draft, note = wizard_backend.load_draft()
        assert note is None and draft["model"].startswith(("m", "first")), draft.get("model")
    leftovers = [p.name for p in state_root().iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 4  # at most one temp file per killed writer, never read as the draft


async def test_typed_fields_are_checked_and_next_says_why(make_app) -> None:
    """Iterations, save interval, learning rate and job name are fields of their own: each refuses
    what its engine would (one sentence, shown under the form and again when Next is refused), a
    save interval longer than the run and more ranks than this machine has warn, and what is
    typed reaches the command as the same --set items `cosmos-tui run` takes."""
    from cosmos_tui.core.preflight import cpu_cores

    app = make_app(gpus=0)
    async with app.run_test(size=(120, 50)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        setup = wizard.query_one(SetupStep)
        setup.enter(wizard.query_one(ModelStep).selected, "/data/waymo", "predict1-waymo", gpus=0)
        wizard.step = 3
        wizard._show()
        await pilot.pause()
        field = {
            name: wizard.query_one(f"#setup-{name}", Input) for name in ("iters", "save-iter", "lr", "job")
        }
        # Started from builtin-demo: its own values, and no --set for them.
        assert (field["iters"].value, field["save-iter"].value) == ("10", "5")
        assert setup.preset is not None and not any("max_iter" in s for s in setup.sets)

        async def refused(name: str, text: str, says: str) -> None:
            field[name].value = text
            await pilot.pause()
            assert setup.preset is None and says in (setup.error or ""), setup.error
            assert says in _text(wizard, "#setup-error")
            assert setup.error.count(". ") == 0 and setup.error.endswith(".")  # one sentence
            await _next(pilot, wizard)
            assert wizard.step == 3  # Next refused, saying why
            assert any(says in str(n.message) for n in app._notifications)

        await refused("iters", "0", "Iterations must be a whole number above 0 (trainer.max_iter)")
        await refused("iters", "-3", "Iterations must be a whole number above 0")
        field["iters"].value = "200"
        await refused("save-iter", "0", "Save every must be a whole number above 0 (checkpoint.save_iter)")
        field["save-iter"].value = "20"
        await refused("lr", "0", "Learning rate must be a positive number such as 1e-4 (optimizer.lr)")
        await refused("lr", "abc", "Learning rate must be a positive number")
        await refused("lr", "inf", "Learning rate must be a positive number")
        field["lr"].value = "1e-4"
        await refused("job", "a/b", "would not be one folder under the output root")
        await refused("job", "..", "would not be one folder under the output root")
        field["job"].value = "my-job"
        await pilot.pause()
        assert setup.preset is not None, setup.error
        assert setup.sets[-4:] == [
            "trainer.max_iter=200",
            "checkpoint.save_iter=20",
            "optimizer.lr=1e-4",
            "job.name=my-job",
        ]
        assert "--set job.name=my-job" in _text(wizard, "#command-preview")
        assert "optimizer.lr=1e-4" in _text(wizard, "#command-preview")
        assert _text(wizard, "#setup-warning") == ""
        # The integer fields take no letters at the keyboard.
        field["iters"].focus()
        await pilot.press("end", "x")
        assert field["iters"].value == "200"
        # A save interval longer than the run: allowed, with a warning saying what it means.
        field["save-iter"].value = "500"
        await pilot.pause()
        assert setup.preset is not None
        warning = _text(wizard, "#setup-warning")
        assert "only checkpoint is the final one" in warning and "200 or less" in warning
        field["save-iter"].value = "20"
        # More CPU ranks than this machine has cores: a warning with what to do.
        too_many = cpu_cores() + 1
        wizard.query_one("#setup-nproc", Input).value = str(too_many)
        await pilot.pause()
        assert setup.preset is not None
        warning = _text(wizard, "#setup-warning")
        assert f"{too_many} CPU processes" in warning and f"set Processes/node to {cpu_cores()}" in warning
        await _next(pilot, wizard)
        assert wizard.step == 4  # a warning does not refuse Next
        # On a GPU machine: more ranks than GPUs.
        setup.enter(wizard.query_one(ModelStep).selected, "/data/waymo", "predict1-waymo", gpus=2)
        await pilot.pause()
        assert "2 GPU(s) visible" in _text(wizard, "#setup-warning")
        assert "set Processes/node to 2" in _text(wizard, "#setup-warning")


async def test_a_synthetic_set_two_folders_deep_is_asked_and_its_command_says_parents(
    make_app, tmp_path: Path
) -> None:
    import shlex

    app = make_app(gpus=0)
    async with app.run_test(size=(120, 40)) as pilot:
        wizard = await _wizard(pilot, "builtin-s2mv-tiny")
        await _next(pilot, wizard)
        await _next(pilot, wizard)
        root = tmp_path / "new" / "set"
        wizard.query_one("#data-root").value = str(root)
        await pilot.click("#data-synth")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        command = app.screen.command
        assert command.endswith(" --parents") and not (tmp_path / "new").exists()
        await pilot.press("n")  # cancelled: nothing made
        assert not isinstance(app.screen, ConfirmDialog) and not (tmp_path / "new").exists()
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app as cli_app

    argv = shlex.split(command)[1:]  # the command the dialog shows works as it stands
    assert (
        CliRunner().invoke(cli_app, [*argv, "--clips", "1", "--frames", "4", "--size", "16x16"]).exit_code
        == 0
    )
    assert root.is_dir()
