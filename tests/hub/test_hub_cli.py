"""The `models` and `hf` command groups through CliRunner, against HfTestServer."""

from __future__ import annotations

import json
import subprocess
import sys

from hub_world import GOOD_TOKEN, WEIGHTS
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core import catalog as catalog_mod

runner = CliRunner()


def _use_test_catalog(monkeypatch, test_catalog) -> None:
    monkeypatch.setattr(catalog_mod, "load_catalog", lambda: test_catalog)


def test_models_list_and_show_json() -> None:
    res = runner.invoke(app, ["models", "list", "--json"])
    assert res.exit_code == 0, res.output
    ids = [m["id"] for m in json.loads(res.stdout)]
    assert "transfer2.5-2b-edge" in ids and "builtin-s2mv-tiny" in ids

    res = runner.invoke(app, ["models", "show", "predict1-7b-s2mv-video2world", "--json"])
    data = json.loads(res.stdout)
    assert data["repos"][0]["repo_id"] == "nvidia/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
    assert data["repos"][0]["files"] == ["v2w_model.pt"]
    assert data["machine_fit"]["can_run"] is False  # no GPU on the test machine

    res = runner.invoke(app, ["models", "show", "builtin-s2mv-tiny"])
    assert res.exit_code == 0 and "Yes" in res.stdout


def test_models_show_unknown_id_suggests() -> None:
    res = runner.invoke(app, ["models", "show", "transfer2.5-2b-egde"])
    assert res.exit_code == 1
    assert "error: Unknown model" in res.stderr and "transfer2.5-2b-edge" in res.stderr
    assert "Traceback" not in res.output


def test_token_never_leaks_through_the_cli(hf_server, monkeypatch, tmp_path) -> None:
    from hub_world import TEST_CATALOG

    test_catalog = catalog_mod.parse_catalog(TEST_CATALOG)
    _use_test_catalog(monkeypatch, test_catalog)
    outputs = []

    res = runner.invoke(app, ["hf", "login", "--stdin"], input=GOOD_TOKEN + "\n")
    assert res.exit_code == 0, res.output
    outputs.append(res.output)
    res = runner.invoke(app, ["hf", "login", "--stdin"], input="hf_WrongTokenValue12345678\n")
    assert res.exit_code == 1
    outputs.extend([res.output, str(res.exception)])
    assert "hf_WrongTokenValue" not in res.output + str(res.exception)
    res = runner.invoke(app, ["hf", "login", "--stdin"], input=GOOD_TOKEN + "\n")
    for args in (
        ["hf", "whoami", "--json"],
        ["hf", "access", "acme-2b", "--inference", "--json"],
        ["hf", "download", "acme-2b", "--dry-run", "--json"],
        ["hf", "download", "acme-2b", "--checkpoint-dir", str(tmp_path / "ck")],
        ["hf", "download", "acme-2b", "--json"],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
        outputs.append(res.output)
    assert json.loads(outputs[3])["account"]["name"] == "alice"
    assert (tmp_path / "ck/acme/World-2B/ckpt/model_ema_bf16.pt").read_bytes() == WEIGHTS
    for text in outputs:
        assert GOOD_TOKEN not in text


def test_access_exit_code_and_page(hf_server, monkeypatch) -> None:
    from hub_world import TEST_CATALOG

    _use_test_catalog(monkeypatch, catalog_mod.parse_catalog(TEST_CATALOG))
    res = runner.invoke(app, ["hf", "access", "acme-2b", "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False
    assert {r["status"] for r in data["repos"]} == {"not-logged-in", "ok"}


def test_whoami_not_logged_in_exits_1(hf_server) -> None:
    res = runner.invoke(app, ["hf", "whoami"])
    assert res.exit_code == 1 and "Not logged in" in res.stderr


def test_predict1_download_needs_checkpoint_dir_and_uses_experiment_folder(
    hf_server, monkeypatch, tmp_path
) -> None:
    """The renamed repo is fetched into the folder the Single2MultiView experiments load."""
    repo = "nvidia/Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView"
    hf_server.add_repo(
        repo, {"t2w_model.pt": b"t2w" * 1000, "v2w_model.pt": b"v2w" * 1000, "README.md": b"r"}
    )
    hf_server.add_repo(
        "nvidia/Cosmos-Tokenize1-CV8x8x8-720p", {"encoder.jit": b"e" * 100, "decoder.jit": b"d"}
    )
    ck = tmp_path / "checkpoints"
    res = runner.invoke(app, ["hf", "download", "predict1-7b-s2mv-text2world", "--checkpoint-dir", str(ck)])
    assert res.exit_code == 0, res.output
    assert (ck / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/t2w_model.pt").exists()
    assert not (ck / "Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/v2w_model.pt").exists()
    assert (ck / "Cosmos-Tokenize1-CV8x8x8-720p/encoder.jit").exists()
    assert not (ck / "google-t5").exists()  # inference-only, not fetched for post-training


def test_predict1_download_without_checkpoint_dir_is_a_usage_error() -> None:
    res = runner.invoke(app, ["hf", "download", "predict1-7b-s2mv-text2world"])
    assert res.exit_code == 2 and "--checkpoint-dir" in res.stderr


def test_login_without_a_terminal_and_logout_when_logged_out_say_one_thing(hf_server, monkeypatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    res = subprocess.run(
        [sys.executable, "-m", "cosmos_tui", "hf", "login"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "GetPassWarning" not in res.stderr and "Traceback" not in res.stderr
    assert "--stdin" in res.stderr
    res = runner.invoke(app, ["hf", "logout"])
    assert res.exit_code == 0
    assert res.output == "Not logged in.\n"
    runner.invoke(app, ["hf", "login", "--stdin"], input=GOOD_TOKEN + "\n")
    res = runner.invoke(app, ["hf", "logout"])
    assert "Logged out." in res.output and "Not logged in!" not in res.output


def test_logout_with_an_empty_token_file_says_not_logged_in_once(monkeypatch) -> None:
    import os
    from pathlib import Path

    monkeypatch.delenv("HF_TOKEN", raising=False)
    home = Path(os.environ["HF_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "token").write_text("")  # a login that never finished, or a `touch`
    (home / "stored_tokens").write_text("")
    res = runner.invoke(app, ["hf", "logout"])
    assert res.exit_code == 0
    assert res.output == "Not logged in.\n"  # not huggingface_hub's "Not logged in!" and "Logged out."
    assert not (home / "token").exists() and not (home / "stored_tokens").exists()


def test_cosmos3_models_in_list_and_show() -> None:
    res = runner.invoke(app, ["models", "list", "--json"])
    rows = {m["id"]: m for m in json.loads(res.stdout)}
    for model_id in ("cosmos3-nano", "cosmos3-super", "cosmos3-edge", "cosmos3-nano-policy-droid"):
        assert rows[model_id]["engine"] == "cosmos-framework"
    res = runner.invoke(app, ["models", "show", "Cosmos3-Nano"], env={"COLUMNS": "240"})
    assert res.exit_code == 0, res.output
    assert "Wan-AI/Wan2.2-TI2V-5B" in res.stdout and "Wan2.2_VAE.pth" in res.stdout
    assert "reasoner-sft" in res.stdout and "Qwen/Qwen3-VL-8B-Instruct" in res.stdout
    assert (
        "nvidia/BridgeData2-Subset-Synthetic-Captions@40d018ac1c1a2a4b9734f17fdb21f3d933c49a01" in res.stdout
    )


def test_access_names_a_forbidden_pin_and_its_fix(hf_server, monkeypatch) -> None:
    from hub_world import TEST_CATALOG

    pin = "89abcdef0123456789abcdef0123456789abcdef"
    test_catalog = catalog_mod.parse_catalog(TEST_CATALOG)
    model = test_catalog.get("acme-2b")
    repos = tuple(r.model_copy(update={"revision": pin}) if r.key == "weights" else r for r in model.repos)
    _use_test_catalog(monkeypatch, catalog_mod.Catalog((model.model_copy(update={"repos": repos}),)))
    hf_server.repos["acme/World-2B"].revisions.add(pin)
    hf_server.repos["acme/World-2B"].forbidden_revisions.add(pin)
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    res = runner.invoke(app, ["hf", "access", "acme-2b"], env={"COLUMNS": "400"})
    assert res.exit_code == 1
    line = next(ln for ln in res.stdout.splitlines() if "acme/World-2B" in ln)
    assert "revision-forbidden" in line and f"replace the pin {pin} with main" in line
    assert GOOD_TOKEN not in res.output
