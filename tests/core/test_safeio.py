"""Bounded reads: a device, a FIFO, a folder or a huge file is refused at once, never read forever."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.safeio import ReadRefused, read_bytes_capped, read_text_capped, regular_file

pytestmark = pytest.mark.timeout(20)  # a read that blocks (FIFO) or never ends (/dev/zero) fails here


def test_small_regular_file_reads(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("iter_000000500\n")
    assert read_text_capped(tmp_path / "a.txt", 64, what="pointer") == "iter_000000500\n"
    assert read_bytes_capped(tmp_path / "a.txt", 15) == b"iter_000000500\n"  # exactly the cap


def test_a_link_to_dev_zero_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.json").symlink_to("/dev/zero")
    with pytest.raises(ReadRefused, match="character device") as e:
        read_bytes_capped(tmp_path / "run.json", 1 << 20, what="run record")
    assert isinstance(e.value, OSError) and e.value.filename == str(tmp_path / "run.json")
    assert "run record" in str(e.value)


def test_a_fifo_without_a_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "caption.txt")
    with pytest.raises(ReadRefused, match="FIFO"):
        read_text_capped(tmp_path / "caption.txt", 1 << 20, what="caption")
    with pytest.raises(ReadRefused, match="FIFO"):
        regular_file(tmp_path / "caption.txt", what="video")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadRefused) as e:
        read_bytes_capped(tmp_path, 10)
    assert e.value.errno == errno.EISDIR


def test_a_huge_sparse_file_is_refused_from_its_size(tmp_path: Path) -> None:
    big = tmp_path / "emb.pkl"
    with open(big, "wb") as f:
        f.truncate(10 << 30)  # 10 GiB, sparse: costs nothing
    with pytest.raises(ReadRefused, match="larger than the 256 MiB") as e:
        read_bytes_capped(big, 256 << 20, what="embedding pickle")
    assert e.value.errno == errno.EFBIG
    (tmp_path / "p.txt").write_bytes(b"x" * 65)
    with pytest.raises(ReadRefused):
        read_bytes_capped(tmp_path / "p.txt", 64)


def test_no_follow_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_text_capped(tmp_path / "link", 10) == "x"
    with pytest.raises(ReadRefused, match="symlink"):
        read_text_capped(tmp_path / "link", 10, follow_symlinks=False)


def test_binary_text_raises_unicode_error_and_missing_is_filenotfound(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UnicodeDecodeError):
        read_text_capped(tmp_path / "bin", 100)
    with pytest.raises(FileNotFoundError):
        read_bytes_capped(tmp_path / "nope", 100)


def test_a_symlink_loop_is_an_oserror_with_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OSError) as e:
        read_bytes_capped(tmp_path / "loop", 100)
    assert e.value.errno == errno.ELOOP
    text = describe_os_error(e.value, doing="read")
    assert text.startswith(f"cannot read {tmp_path / 'loop'}: a symlink loop") and "\n" not in text
