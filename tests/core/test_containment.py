"""One containment rule: ``..`` and symlinks are resolved first, then nothing outside the owned
folder is written or deleted; links are removed as links, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosmos_tui.core.containment import (
    Escape,
    contained,
    is_within,
    safe_rmtree,
    safe_unlink,
    write_contained,
)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """``(root, outside)``: an owned folder and a precious folder next to it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    return root, outside


def test_dotdot_that_leaves_the_root_is_refused(tree) -> None:
    root, _ = tree
    with pytest.raises(Escape, match="outside"):
        contained(root / "sub" / ".." / ".." / "outside" / "precious.txt", root, what="the output root")
    assert contained(root / "sub" / ".." / "x", root, what="r") == (root / "x").resolve()


def test_symlink_leading_out_is_refused_and_one_leading_in_is_fine(tree) -> None:
    root, outside = tree
    (root / "out").symlink_to(outside)
    (root / "in").symlink_to(root / "sub")
    with pytest.raises(Escape, match=r"resolves to .*outside"):
        contained(root / "out" / "precious.txt", root, what="the dataset folder")
    assert contained(root / "in" / "x", root, what="r") == (root / "sub" / "x").resolve()


def test_dotdot_after_a_symlink_means_what_the_os_means(tree) -> None:
    root, outside = tree
    (outside / "deep").mkdir()
    (root / "link").symlink_to(outside / "deep")
    # lexically root/link/../precious.txt is root/precious.txt; the OS opens outside/precious.txt
    with pytest.raises(Escape):
        contained(root / "link" / ".." / "precious.txt", root, what="r")
    with pytest.raises(Escape):
        safe_rmtree(f"{root}/link/../precious.txt", root)
    assert (outside / "precious.txt").exists()


def test_symlink_loop_does_not_hang_or_raise_outside_the_os(tree) -> None:
    root, _ = tree
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    assert is_within(root / "a" / "x", root)  # resolution stops at the loop, inside the root
    assert safe_rmtree(root / "a", root) is True  # the link goes, as a link
    assert not os.path.lexists(root / "a") and os.path.lexists(root / "b")


def test_rmtree_of_a_symlinked_folder_removes_the_link_not_the_target(tree) -> None:
    root, outside = tree
    (root / "job").symlink_to(outside)
    assert safe_rmtree(root / "job", root)
    assert not os.path.lexists(root / "job")
    assert (outside / "precious.txt").read_text() == "keep me"


def test_rmtree_inside_a_tree_never_follows_links(tree) -> None:
    root, outside = tree
    (root / "job" / "deep").mkdir(parents=True)
    (root / "job" / "deep" / "escape").symlink_to(outside)
    safe_rmtree(root / "job", root)
    assert not (root / "job").exists() and (outside / "precious.txt").exists()


def test_rmtree_refuses_the_root_itself_anchors_home_and_outside(tree, monkeypatch) -> None:
    root, outside = tree
    for victim in (root, root / "sub" / "..", root / "."):
        with pytest.raises(Escape, match="itself"):
            safe_rmtree(victim, root)
    with pytest.raises(Escape):
        safe_rmtree("/", "/")
    with pytest.raises(Escape):
        safe_rmtree("/tmp", "/")
    monkeypatch.setenv("HOME", str(outside))
    with pytest.raises(Escape, match="home"):
        safe_rmtree(outside, outside.parent)
    with pytest.raises(Escape, match="outside"):
        safe_rmtree(outside / "precious.txt", root)
    assert root.is_dir() and (outside / "precious.txt").exists()


def test_unlink_refuses_folders_and_removes_links(tree) -> None:
    root, outside = tree
    (root / "f").symlink_to(outside / "precious.txt")
    assert safe_unlink(root / "f", root) and (outside / "precious.txt").exists()
    assert safe_unlink(root / "missing", root) is False
    with pytest.raises(Escape, match="folder"):
        safe_unlink(root / "sub", root)


def test_write_never_goes_through_a_planted_link(tree) -> None:
    root, outside = tree
    target = outside / "precious.txt"
    (root / "out.txt").symlink_to(target)
    with pytest.raises(Escape):
        write_contained(root / "out.txt", "evil", root)
    # a link planted at the temp name is removed as an entry, never written through
    tmp = root / f".new.txt.{os.getpid()}.tmp"
    tmp.symlink_to(target)
    write_contained(root / "new.txt", "hello", root)
    assert (root / "new.txt").read_text() == "hello" and target.read_text() == "keep me"
    assert not os.path.lexists(tmp)


_PARTS = st.lists(
    st.sampled_from(["..", ".", "sub", "in", "out", "loop", "x", "root", "outside"]), max_size=6
)


@settings(max_examples=200, deadline=None)
@given(parts=_PARTS)
def test_contained_agrees_with_the_os(tmp_path_factory, parts) -> None:
    """Whatever mix of ``..``, links and loops: what ``contained`` accepts really is inside."""
    base = tmp_path_factory.mktemp("c")
    root, outside = base / "root", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "in").symlink_to(root / "sub")
    (root / "out").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")
    path = Path(root, *parts)
    try:
        got = contained(path, root, what="r")
    except Escape:
        real = os.path.realpath(path)
        assert not (real == str(root.resolve()) or real.startswith(str(root.resolve()) + os.sep))
        return
    assert got == root.resolve() or root.resolve() in got.parents
