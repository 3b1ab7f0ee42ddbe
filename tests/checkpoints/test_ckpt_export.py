"""Export real DCP checkpoints and Predict1 sets to consolidated files, then load them back."""

from __future__ import annotations

from pathlib import Path

import pytest
from ckpt_writers import tiny_state, write_dcp_checkpoint, write_pt_set

from cosmos_tui.core.checkpoints.export import export_checkpoint, find_checkpoint
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.errors import UserError


def _load(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def test_dcp_export_upstream_names_and_tensors(ckpt_dir: Path, tmp_path: Path) -> None:
    import torch

    state = tiny_state(7)
    state["step_count"] = torch.tensor(42)
    write_dcp_checkpoint(ckpt_dir, 500, state)
    info = find_checkpoint(scan_checkpoints(ckpt_dir), None)
    result = export_checkpoint(info, tmp_path / "out")

    assert [p.name for p in result.files] == ["model.pt", "model_ema_fp32.pt", "model_ema_bf16.pt"]
    assert not list((tmp_path / "out").glob(".*partial"))
    full = _load(tmp_path / "out" / "model.pt")
    assert set(full) == set(state)
    for k, v in state.items():
        assert full[k].dtype == v.dtype and torch.equal(full[k], v), k
    ema32 = _load(tmp_path / "out" / "model_ema_fp32.pt")
    assert set(ema32) == {k for k in state if k.startswith("net.")}
    assert torch.equal(ema32["net.head.weight"], state["net_ema.head.weight"])
    ema16 = _load(tmp_path / "out" / "model_ema_bf16.pt")
    assert ema16["net.head.weight"].dtype == torch.bfloat16
    assert torch.equal(ema16["net.head.weight"], state["net_ema.head.weight"].bfloat16())
    assert result.bytes_written > 0 and result.bytes_read > 0


def test_export_loads_into_a_model(ckpt_dir: Path, tmp_path: Path) -> None:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(6, 8)])
            self.head = torch.nn.Linear(8, 3, bias=False)
            self.pos_emb = torch.nn.Parameter(torch.zeros(2, 4, 5, dtype=torch.bfloat16))

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = Net()

    state = tiny_state(3)
    write_dcp_checkpoint(ckpt_dir, 100, state)
    export_checkpoint(scan_checkpoints(ckpt_dir)[0], tmp_path, dtype="fp32", full=False)
    model = Wrapper()
    model.load_state_dict(_load(tmp_path / "model_ema_fp32.pt"), strict=True)
    assert torch.equal(model.net.blocks[0].weight, state["net_ema.blocks.0.weight"])
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "model_ema_bf16.pt").exists()


def test_no_ema_is_a_clear_error(ckpt_dir: Path, tmp_path: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100, tiny_state(1, ema=False))
    info = scan_checkpoints(ckpt_dir)[0]
    with pytest.raises(UserError, match="no EMA weights"):
        export_checkpoint(info, tmp_path / "out")
    res = export_checkpoint(info, tmp_path / "out", ema=False, dtype="bf16")
    import torch

    sd = _load(res.files[0])
    assert sd["net.head.weight"].dtype == torch.bfloat16


def test_refuses_incomplete_and_existing(ckpt_dir: Path, tmp_path: Path) -> None:
    write_dcp_checkpoint(ckpt_dir, 100, parts=("model", "optim"))
    with pytest.raises(UserError, match="incomplete"):
        export_checkpoint(scan_checkpoints(ckpt_dir)[0], tmp_path)
    write_dcp_checkpoint(ckpt_dir, 200)
    info = scan_checkpoints(ckpt_dir)[1]
    export_checkpoint(info, tmp_path)
    before = (tmp_path / "model.pt").stat().st_mtime_ns
    with pytest.raises(UserError, match="already exists"):
        export_checkpoint(info, tmp_path)
    assert (tmp_path / "model.pt").stat().st_mtime_ns == before
    export_checkpoint(info, tmp_path, overwrite=True)


def test_safetensors_output(ckpt_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    state = tiny_state(5)
    write_dcp_checkpoint(ckpt_dir, 100, state)
    res = export_checkpoint(scan_checkpoints(ckpt_dir)[0], tmp_path, fmt="safetensors", dtype="bf16")
    assert [p.name for p in res.files] == ["model.safetensors", "model_ema_bf16.safetensors"]
    sd = load_file(tmp_path / "model_ema_bf16.safetensors")
    assert torch.equal(sd["net.blocks.0.bias"], state["net_ema.blocks.0.bias"].bfloat16())
    full = load_file(tmp_path / "model.safetensors")
    assert all(torch.equal(full[k], v) for k, v in state.items())


def test_pt_set_export(ckpt_dir: Path, tmp_path: Path) -> None:
    import torch

    write_pt_set(ckpt_dir, 200)
    info = scan_checkpoints(ckpt_dir)[0]
    res = export_checkpoint(info, tmp_path)
    assert [p.name for p in res.files] == ["model.pt", "model_ema_fp32.pt", "model_ema_bf16.pt"]
    ema = torch.load(ckpt_dir / "iter_000000200_ema_model.pt", weights_only=True)
    got = _load(tmp_path / "model_ema_fp32.pt")
    assert set(got) == set(ema) and all(torch.equal(got[k], ema[k].float()) for k in ema)
    reg = torch.load(ckpt_dir / "iter_000000200_reg_model.pt", weights_only=True)
    got = _load(tmp_path / "model.pt")
    assert all(torch.equal(got[k], reg[k]) for k in reg)


def test_dcp_export_matches_upstream_converter_dtypes_and_extra_state(ckpt_dir: Path, tmp_path: Path) -> None:
    """What scripts/convert_distcp_to_pt.py (cosmos-transfer2.5 2ff49d0) writes: model_ema_fp32.pt
    keeps every tensor's stored dtype (bf16 stays bf16) and, like model.pt and model_ema_bf16.pt,
    keeps non-tensor entries such as a TransformerEngine ``_extra_state`` (an io.BytesIO)."""
    import io

    import torch

    state = tiny_state(9)  # net_ema.pos_emb is stored as bfloat16, the rest float32
    state["net_ema.blocks.0.half"] = torch.ones(3, dtype=torch.float16)
    state["net_ema.blocks.0._extra_state"] = io.BytesIO(b"te-fp8-meta")
    state["net.blocks.0._extra_state"] = io.BytesIO(b"te-reg")
    state["net_ema.layers"] = 4
    write_dcp_checkpoint(ckpt_dir, 300, state)
    result = export_checkpoint(find_checkpoint(scan_checkpoints(ckpt_dir), None), tmp_path)
    assert result.skipped == ()

    def load(name: str) -> dict:
        with torch.serialization.safe_globals([io.BytesIO]):
            return torch.load(tmp_path / name, map_location="cpu", weights_only=True)

    ema32 = load("model_ema_fp32.pt")
    assert ema32["net.pos_emb"].dtype == torch.bfloat16  # stored dtype, not cast to float32
    assert torch.equal(ema32["net.pos_emb"], state["net_ema.pos_emb"])
    assert ema32["net.blocks.0.half"].dtype == torch.float16
    assert ema32["net.blocks.0._extra_state"].getvalue() == b"te-fp8-meta"
    assert ema32["net.layers"] == 4
    assert set(ema32) == {k.replace("net_ema.", "net.") for k in state if k.startswith("net_ema.")}

    ema16 = load("model_ema_bf16.pt")
    assert ema16["net.head.weight"].dtype == torch.bfloat16
    assert ema16["net.blocks.0.half"].dtype == torch.float16  # only float32 is cast
    assert ema16["net.blocks.0._extra_state"].getvalue() == b"te-fp8-meta"

    full = load("model.pt")
    assert set(full) == set(state)
    assert full["net.blocks.0._extra_state"].getvalue() == b"te-reg"
    assert full["net_ema.pos_emb"].dtype == torch.bfloat16


def test_safetensors_ema_fp32_is_float32_and_lists_what_it_cannot_hold(
    ckpt_dir: Path, tmp_path: Path
) -> None:
    import io

    import torch
    from safetensors.torch import load_file

    state = tiny_state(2)
    state["net_ema.blocks.0._extra_state"] = io.BytesIO(b"x")
    write_dcp_checkpoint(ckpt_dir, 100, state)
    res = export_checkpoint(scan_checkpoints(ckpt_dir)[0], tmp_path, fmt="safetensors", dtype="fp32")
    assert load_file(tmp_path / "model_ema_fp32.safetensors")["net.pos_emb"].dtype == torch.float32
    assert res.skipped == ("net_ema.blocks.0._extra_state",)
