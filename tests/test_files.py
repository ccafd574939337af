"""Removing the temp files that an atomic write killed mid-way (kill -9, power loss) left behind."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cifar_utils.files import atomic_write_bytes, new_temp, remove_stale_temps
from cifar_utils.recipes import REPO_ROOT

DAY = 86400


def make(folder, name, age_s=0.0):
    path = folder / name
    path.write_bytes(b"x")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_only_old_temps_of_the_named_target_are_removed(tmp_path):
    stale = make(tmp_path, ".run.json.abc123de.tmp", age_s=2 * DAY)
    fresh = make(tmp_path, ".run.json.fgh456ij.tmp")
    keep = [make(tmp_path, name, age_s=2 * DAY) for name in
            ("run.json", ".other.json.abc123de.tmp", ".run.json.tmp", "run.json.abc123de.tmp",
             ".run.json.abc123de.tmp.bak", ".run.jsonx.abc123de.tmp", ".run.json.old.abc123de.tmp")]
    assert remove_stale_temps(tmp_path, "run.json") == [stale]
    assert not stale.exists() and fresh.exists() and all(p.exists() for p in keep)


def test_age_is_a_parameter(tmp_path):
    recent = make(tmp_path, ".ckpt.pt.abc123de.tmp", age_s=120)
    assert remove_stale_temps(tmp_path, "ckpt.pt") == []
    assert remove_stale_temps(tmp_path, "ckpt.pt", older_than_s=60) == [recent]


def test_folders_links_and_missing_folders_are_left_alone(tmp_path):
    folder = tmp_path / ".ckpt.pt.abc123de.tmp"
    folder.mkdir()
    os.utime(folder, (0, 0))
    target = make(tmp_path, "precious", age_s=2 * DAY)
    link = tmp_path / ".ckpt.pt.zzz999zz.tmp"
    link.symlink_to(target)
    os.utime(link, (0, 0), follow_symlinks=False)
    assert remove_stale_temps(tmp_path, "ckpt.pt", older_than_s=0) == []
    assert folder.is_dir() and link.is_symlink() and target.exists()
    assert remove_stale_temps(tmp_path / "missing", "ckpt.pt") == []


def test_temps_left_by_atomic_writes_match_the_pattern(tmp_path, monkeypatch):
    def killed(tmp, path):  # the write is interrupted after the temp file was made
        raise SystemExit

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(os, "unlink", lambda tmp: None)  # as after kill -9: no cleanup runs
    try:
        atomic_write_bytes(tmp_path / "out.json", b"{}")
    except SystemExit:
        pass
    monkeypatch.undo()
    [left] = list(tmp_path.iterdir())
    assert remove_stale_temps(tmp_path, "out.json", older_than_s=0) == [left]
    assert list(tmp_path.iterdir()) == []


# --- a temp names its writer's pid: one left by a killed writer goes at once -------------------------------

WRITER = ("import sys, time\nfrom cifar_utils.files import new_temp\n"
          "print(new_temp(sys.argv[1], suffix=sys.argv[2]), flush=True)\ntime.sleep(60)\n")


def temp_of_a_writer(target, suffix=".tmp"):
    """A writer process that made its temp for ``target`` and is still at work: (process, temp path)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), suffix], stdout=subprocess.PIPE, text=True,
                            cwd=REPO_ROOT)
    return proc, Path(proc.stdout.readline().strip())


def test_a_temp_names_its_writers_pid_and_keeps_its_suffix(tmp_path):
    for suffix in (".tmp", ".source.ipynb"):
        temp = Path(new_temp(tmp_path / "nb.ipynb", suffix=suffix))
        assert temp.parent == tmp_path and temp.name.startswith(f".nb.ipynb.{os.getpid()}.")
        assert temp.name.endswith(suffix) and "." not in temp.name[len(f".nb.ipynb.{os.getpid()}."):-len(suffix)]


@pytest.mark.parametrize("suffix", [".tmp", ".tmp.ipynb"])
def test_the_temp_of_a_killed_writer_is_removed_at_once_and_a_live_writers_is_kept(suffix, tmp_path):
    killed, killed_temp = temp_of_a_writer(tmp_path / "cache.pt", suffix)
    live, live_temp = temp_of_a_writer(tmp_path / "cache.pt", suffix)
    try:
        killed.kill()  # kill -9: no cleanup runs
        killed.wait(timeout=30)
        assert killed_temp.exists() and live_temp.exists()
        assert remove_stale_temps(tmp_path, "cache.pt", suffix=suffix) == [killed_temp]
        assert live_temp.exists()  # a writer still at work keeps its temp...
        # ...till it is old
        assert remove_stale_temps(tmp_path, "cache.pt", older_than_s=0, suffix=suffix) == [live_temp]
    finally:
        live.kill()
        live.wait(timeout=30)


def test_a_temp_without_a_pid_or_of_this_process_keeps_the_age_rule(tmp_path):
    own = Path(new_temp(tmp_path / "run.json"))
    unnamed = make(tmp_path, ".run.json.abc123de.tmp")
    assert remove_stale_temps(tmp_path, "run.json") == [] and own.exists() and unnamed.exists()
    assert remove_stale_temps(tmp_path, "run.json", older_than_s=0) == sorted([own, unnamed])


# --- what an atomic write refuses, and what it tells (issue 31) ---------------------------------------------

def test_a_read_only_file_is_refused_and_left_as_it_is(tmp_path):
    """A rename would replace a read-only file all the same (and root may write anything): it is refused."""
    from cifar_utils.files import OutputError
    path = tmp_path / "README.md"
    path.write_bytes(b"old")
    path.chmod(0o444)
    with pytest.raises(OutputError, match=r"README.md is read-only; make it writable"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]
    assert atomic_write_bytes(path, b"old") == path  # the same bytes: nothing to write, nothing refused


def test_a_write_that_is_denied_says_to_make_it_writable_not_to_free_space(tmp_path):
    import errno
    from cifar_utils.files import OutputError, atomic_write_with

    def denied(tmp):
        raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(OutputError) as info:
        atomic_write_with(tmp_path / "r.json", denied)
    assert "make it writable" in str(info.value) and "free space" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
