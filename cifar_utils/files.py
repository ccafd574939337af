"""Atomic file writes: a temp file in the target's folder, then os.replace.

A reader sees either the old file or the complete new one, never a half-written file, and the old
file is left intact when writing fails. A writer killed mid-way (kill -9, power loss) leaves its
hidden temp file ``.<name>.<random>.tmp`` behind; the next write of the same file removes it
(``remove_stale_temps``), also when it skips writing identical bytes. A write that fails (a full disk)
is one ``OutputError`` naming the file. ``locked`` serialises work that two processes must not do at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable


class OutputError(RuntimeError):
    """An output folder or file cannot be written."""


def ensure_writable_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check it can be written, failing with the path named."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder} ({exc.strerror}); "
                          f"choose a folder you can write to.") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"the output folder {folder} is not writable; choose a folder you can write to.")
    return folder


def check_writable_dir(folder: str | os.PathLike) -> Path:
    """``ensure_writable_dir`` without creating anything: ``folder``, or the nearest folder above it that
    exists (where it would be created), must be writable. A run checks this first and creates its folders
    only when it writes into them, so a run that fails leaves no empty folder."""
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"the output folder {folder} cannot be created or written ({existing} is not a writable "
                          f"folder); choose a folder you can write to.")
    return folder


def atomic_write_with(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then move it into place. A write that fails
    for want of space (OSError, or torch.save's RuntimeError) is one OutputError naming ``path``."""
    path = Path(path)
    tmp = new_temp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, OutputError):
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).strip().splitlines()[0][:200]
            raise OutputError(f"writing {path} failed ({reason}); free space or choose another folder.") from exc
        raise
    return path


def new_temp(path: str | os.PathLike, suffix: str = ".tmp") -> str:
    """A new empty temp file ``.<name>.<random><suffix>`` beside ``path``, with the usual permissions,
    after removing the stale ones of that pattern that killed writers left there."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    remove_stale_temps(path.parent, path.name, suffix=suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        usual_permissions(tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


STALE_AFTER_S = 3600  # a temp file untouched this long is no longer being written


def remove_stale_temps(folder: str | os.PathLike, name: str, older_than_s: float = STALE_AFTER_S,
                       suffix: str = ".tmp") -> list[Path]:
    """Delete the temp files ``.<name>.<random><suffix>`` that ``atomic_write_with`` (or another writer
    of this project using that pattern) left in ``folder`` and that were last modified at least
    ``older_than_s`` seconds ago (a younger one may belong to a writer still at work); return the
    paths removed. Best effort: what cannot be removed is left."""
    prefix = f".{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in sorted(entries, key=lambda e: e.name):
        middle = entry.name[len(prefix):-len(suffix)]  # mkstemp's random part: no dots
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix) and middle and "." not in middle):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and time.time() - info.st_mtime >= older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # removed meanwhile by another process, or not ours to remove
            pass
    return removed


def usual_permissions(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (0600) the permissions a plain open() would have given it."""
    os.chmod(path, 0o666 & ~_UMASK)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` atomically; leave the file (and its mtime) alone when it already holds ``data``."""
    path = Path(path)
    if path.is_file() and path.read_bytes() == data:
        remove_stale_temps(path.parent, path.name)  # the write that would have removed them is skipped
        return path

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write_with(path, write)


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def locked(path: str | os.PathLike, on_wait=None):
    """Hold an exclusive lock on the file ``path`` (created if needed) for the ``with`` block; another
    process asking for the same lock waits. ``on_wait()`` is called once if the lock is taken. The
    lock goes with the process, so a killed holder never leaves it stuck. The holder removes the file
    when done (a waiter that then holds the removed file's lock takes the lock again on a new file)."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    while True:
        with open(path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                    on_wait = None
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if os.path.exists(path) and os.path.samefile(path, fh.fileno()):
                    try:
                        yield
                    finally:
                        os.unlink(path)
                    return
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
