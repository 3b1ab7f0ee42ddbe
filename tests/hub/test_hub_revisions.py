"""Revisions belong to the engine and its checkout version: the download plan asks the model's
engine adapter, so a Predict2.5 model fetches the Wan2.1 tokenizer at the commit Predict2.5's code
asks for (``6787e176`` at 7e5ffc8) and a Transfer2.5 model at Transfer2.5's (``f176dc95`` since
93a76bd); both pin Guardrail1 at ``d6d4bfa8``. Checked against the HF test server, which here
answers only the revisions upstream pins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hub_world import GOOD_TOKEN
from support.catalog_toml import catalog, model, repo

from cosmos_tui.core import hub
from cosmos_tui.core.catalog import load_catalog, parse_catalog
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.revisions import RevisionSet, select
from cosmos_tui.core.hub import settings

P25_TOKENIZER = "6787e176dce74a101d922174a95dba29fa5f0c55"  # cosmos-predict2.5 7e5ffc8 cosmos_oss
T25_TOKENIZER = "f176dc95b4a70f53ce01c4b302851595e7322b00"  # cosmos-transfer2.5 93a76bd..2ff49d0
GUARDRAIL1 = "d6d4bfa899a71454a700907664f3e88f503950cf"  # guardrail/common/core.py, both repos
TOKENIZER = b"wan2.1-vae" * 1000

CATALOG = catalog(
    repo("wan21", "nvidia/Cosmos-Predict2.5-2B", "tokenizer", files=["tokenizer.pth"]),
    repo("guardrail1", "nvidia/Cosmos-Guardrail1", "guardrail", needed_for="inference"),
    *(
        model(model_id, engine, layout, family=family, uses=["wan21", "guardrail1"])
        for model_id, family, engine, layout in (
            ("p25", "Cosmos-Predict2.5", "cosmos-predict2.5", "predict25-video2world"),
            ("t25", "Cosmos-Transfer2.5", "cosmos-transfer2.5", "transfer25-singleview"),
        )
    ),
)


@pytest.fixture
def pinned_server(hf_server):
    """The tokenizer repo answers only the two pinned commits (not ``main``); Guardrail1 only its pin."""
    hf_server.add_repo(
        "nvidia/Cosmos-Predict2.5-2B", {"tokenizer.pth": TOKENIZER}, revisions={P25_TOKENIZER, T25_TOKENIZER}
    )
    hf_server.add_repo("nvidia/Cosmos-Guardrail1", {"config.json": b"{}"}, revisions={GUARDRAIL1})
    hub.login(GOOD_TOKEN)
    return hf_server


def test_shipped_catalog_takes_revisions_from_the_engine() -> None:
    catalog = load_catalog()

    def rev(model: str, repo_id: str, file: str | None = None) -> str:
        specs = catalog.get(model).repos_for(inference=True)
        return next(s for s in specs if s.repo_id == repo_id and (file is None or file in s.files)).revision

    assert rev("predict2.5-2b", "nvidia/Cosmos-Predict2.5-2B", "tokenizer.pth") == P25_TOKENIZER
    assert rev("predict2.5-14b", "nvidia/Cosmos-Predict2.5-2B", "tokenizer.pth") == P25_TOKENIZER
    assert rev("transfer2.5-2b-edge", "nvidia/Cosmos-Predict2.5-2B", "tokenizer.pth") == T25_TOKENIZER
    for model_id in ("predict2.5-2b", "transfer2.5-2b-auto-multiview"):
        assert rev(model_id, "nvidia/Cosmos-Guardrail1") == GUARDRAIL1
    # Predict1's downloader calls snapshot_download without a revision, into checkpoints/.
    p1 = rev("predict1-7b-s2mv-text2world", "nvidia/Cosmos-Guardrail1")
    assert p1 == "main"


def test_predict25_download_requests_its_pin_and_is_found_offline(pinned_server, tmp_path) -> None:
    model = parse_catalog(CATALOG).get("p25")
    paths = hub.download(hub.plan_download(model, inference=True))
    assert len(paths) == 2

    def asked_of(repo: str) -> list[str]:  # requests that name a revision (auth-check names none)
        return [r.path for r in pinned_server.requests if repo in r.path and "/auth-check" not in r.path]

    asked = asked_of("Cosmos-Predict2.5-2B")
    assert asked and all(P25_TOKENIZER in p for p in asked), asked
    assert not any(T25_TOKENIZER in p or "/main" in p for p in asked)
    guard = asked_of("Cosmos-Guardrail1")
    assert guard and all(GUARDRAIL1 in p for p in guard), "\n".join(guard)

    # What Predict2.5's code then does with HF_HUB_OFFLINE=1: hf_hub_download at its pin, cache only.
    from huggingface_hub import hf_hub_download

    found = hf_hub_download(
        "nvidia/Cosmos-Predict2.5-2B",
        "tokenizer.pth",
        revision=P25_TOKENIZER,
        cache_dir=settings.hub_cache(),
        local_files_only=True,
    )
    assert Path(found).read_bytes() == TOKENIZER
    assert hub.weights_present(model)


def test_transfer25_plans_its_own_tokenizer_pin(pinned_server) -> None:
    plan = hub.plan_download(parse_catalog(CATALOG).get("t25"))
    (tok,) = plan.files
    assert tok.revision == tok.commit == T25_TOKENIZER
    assert f"/snapshots/{T25_TOKENIZER}/" in str(tok.dest)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_checkout_version_picks_the_revision_set(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    for n in ("one", "two"):
        (repo / n).write_text(n)
        _git(repo, "add", n)
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", n)
    first, second = _git(repo, "rev-parse", "HEAD~1"), _git(repo, "rev-parse", "HEAD")
    old = RevisionSet(read_at=first, since=None, pins={"a/b/f.pth": "1" * 40})
    new = RevisionSet(read_at=second, since=second, pins={"a/b/f.pth": "2" * 40})
    assert select((old, new), repo) is new
    _git(repo, "checkout", "-q", first)
    assert select((old, new), repo) is old  # a checkout from before the pin moved
    assert select((old, new), None) is new  # no checkout: the version cosmos-tui targets
    assert select((old, new), tmp_path) is new  # not a git checkout: git cannot say
    assert old.revision("a/b", ("f.pth",)) == ("1" * 40, "")


def test_an_old_transfer25_checkout_gets_the_old_tokenizer_pin(tmp_path: Path, monkeypatch) -> None:
    from cosmos_tui.core.engines import revisions

    adapter = get_adapter("cosmos-transfer2.5")
    repo_id, files = "nvidia/Cosmos-Predict2.5-2B", ("tokenizer.pth",)
    assert adapter.revision(repo_id, files)[0] == T25_TOKENIZER
    monkeypatch.setattr(revisions, "_is_ancestor", lambda repo, commit: False)  # before 93a76bd
    assert adapter.revision(repo_id, files, tmp_path)[0] == P25_TOKENIZER
    model = parse_catalog(CATALOG).get("t25")
    (spec,) = model.repos_for(checkout=tmp_path)
    assert spec.revision == P25_TOKENIZER


def test_access_check_asks_for_the_checkout_s_revision(pinned_server, tmp_path: Path, monkeypatch) -> None:
    from cosmos_tui.core.engines import revisions

    monkeypatch.setattr(revisions, "_is_ancestor", lambda repo, commit: False)  # before 93a76bd
    model = parse_catalog(CATALOG).get("t25")
    (verdict,) = hub.check_access(model, checkout=tmp_path)
    assert verdict.ok and verdict.revision == P25_TOKENIZER
    assert any(f"/resolve/{P25_TOKENIZER}/tokenizer.pth" in r.path for r in pinned_server.requests)


# --- the CLI passes the engine checkout (--repo, or the --preset's engine.repo) ---------------


def _cli(monkeypatch, *args: str):
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app
    from cosmos_tui.core import catalog as catalog_mod

    monkeypatch.setattr(catalog_mod, "load_catalog", lambda: parse_catalog(CATALOG))
    return CliRunner().invoke(app, list(args))


def _old_transfer25_checkout(tmp_path: Path, monkeypatch, name: str = "old t25") -> Path:
    """A Transfer2.5 checkout from before 93a76bd (git is asked about this folder only)."""
    from cosmos_tui.core.engines import revisions

    repo = tmp_path / name
    (repo / "cosmos_transfer2").mkdir(parents=True)
    real = revisions._is_ancestor
    monkeypatch.setattr(
        revisions, "_is_ancestor", lambda r, c: False if Path(r) == repo.resolve() else real(r, c)
    )
    return repo


def test_cli_download_fetches_the_revision_of_the_given_checkout(
    pinned_server, tmp_path: Path, monkeypatch
) -> None:
    import json

    repo = _old_transfer25_checkout(tmp_path, monkeypatch)
    res = _cli(monkeypatch, "hf", "download", "t25", "--repo", str(repo), "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["checkout"] == str(repo.resolve())
    assert [f["revision"] for f in plan["files"]] == [P25_TOKENIZER]
    res = _cli(monkeypatch, "hf", "download", "t25", "--repo", str(repo))
    assert res.exit_code == 0, res.output
    assert f"@{P25_TOKENIZER[:12]}" in res.stderr
    asked = [r.path for r in pinned_server.requests if "tokenizer.pth" in r.path]
    assert asked and all(P25_TOKENIZER in p for p in asked), asked
    snapshot = settings.hub_cache() / "models--nvidia--Cosmos-Predict2.5-2B" / "snapshots" / P25_TOKENIZER
    assert (snapshot / "tokenizer.pth").read_bytes() == TOKENIZER
    # Without a checkout: the version cosmos-tui targets, as before.
    res = _cli(monkeypatch, "hf", "download", "t25", "--dry-run", "--json")
    assert [f["revision"] for f in json.loads(res.stdout)["files"]] == [T25_TOKENIZER]


def test_cli_access_reads_the_preset_s_engine_repo(pinned_server, tmp_path: Path, monkeypatch) -> None:
    import json

    repo = _old_transfer25_checkout(tmp_path, monkeypatch)
    preset = tmp_path / "mine.toml"
    preset.write_text(
        '[model]\nid = "t25"\n[engine]\nkind = "cosmos-transfer2.5"\n'
        f"repo = {json.dumps(str(repo))}\n"
        '[experiment]\nname = "transfer2_singleview_posttrain_edge_example"\n'
    )
    res = _cli(monkeypatch, "hf", "access", "--preset", str(preset), "--json")  # MODEL: its model.id
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["checkout"] == str(repo.resolve())
    assert [r["revision"] for r in data["repos"]] == [P25_TOKENIZER]
    # --repo wins over the preset's engine.repo.
    newer = tmp_path / "new t25"
    (newer / "cosmos_transfer2").mkdir(parents=True)
    res = _cli(monkeypatch, "hf", "access", "t25", "--preset", str(preset), "--repo", str(newer), "--json")
    assert [r["revision"] for r in json.loads(res.stdout)["repos"]] == [T25_TOKENIZER]


@pytest.mark.parametrize("what", ["file", "missing", "other-engine"])
def test_cli_refuses_a_checkout_that_cannot_be_the_engine_s(
    pinned_server, tmp_path: Path, monkeypatch, what: str
) -> None:
    bad = tmp_path / "a\nb c"
    if what == "file":
        bad.write_text("")
    elif what == "other-engine":
        (bad / "cosmos_predict2").mkdir(parents=True)
    for command in ("download", "access"):
        res = _cli(monkeypatch, "hf", command, "t25", "--repo", str(bad))
        assert res.exit_code == 1, res.output
        assert "Traceback" not in res.output and res.stderr.startswith("error: --repo ")
        assert "a\\nb c" in res.stderr  # the newline shown as an escape, on one line
        assert len(res.stderr.strip().splitlines()) <= 2
    assert not any("tokenizer.pth" in r.path for r in pinned_server.requests)
