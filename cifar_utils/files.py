"""Atomic file writes: a temp file in the target's folder, then os.replace.

A reader sees either the old file or the complete new one, never a half-written file, and the old
file is left intact when writing fails. A writer killed mid-way (kill -9, power loss) leaves its
hidden temp file ``.<name>.<pid>.<random>.tmp`` behind; the next write of the same file removes it
(``remove_stale_temps``: at once when that pid is no live process here, else once an hour old), also when it
skips writing identical bytes. A write that fails (a full disk) is one ``OutputError`` naming the file, and so
is a file made read-only, which a rename would replace all the same. ``move_whole`` moves a file whole or not at all.
``locked`` serialises work that two processes must not do at once; ``remove_unheld_locks`` removes the lock
files that killed holders left.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
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
    for want of space (OSError, or torch.save's RuntimeError) is one OutputError naming ``path``; so is a ``path``
    that is read-only (``read_only``), left as it is."""
    path = Path(path)
    check_not_read_only(path)
    tmp = new_temp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, OutputError):
            denied = isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EROFS
            raise OutputError(f"writing {path} failed ({failure_reason(exc)}); "
                              f"{'make it writable' if denied else 'free space'} or choose another folder.") from exc
        raise
    return path


def failure_reason(exc: BaseException) -> str:
    """Why a write failed, in a few words: an OSError's strerror ("No space left on device"), else the first
    line of the message (torch.save's "[enforce fail at inline_container.cc:672] . unexpected pos ...")."""
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc).strip().splitlines()[0][:200]


def check_not_read_only(path: str | os.PathLike) -> None:
    """OutputError naming ``path`` and the fix when it is a read-only file (``read_only``)."""
    if read_only(path):
        raise OutputError(f"{path} is read-only; make it writable (chmod u+w {path}) and run again.")


def read_only(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file without write permission (for anyone, or for this user). A rename replaces such a
    file all the same, and root may write anywhere, so the atomic writes ask this instead of trying."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (not info.st_mode & 0o222 or not os.access(path, os.W_OK))


def move_whole(path: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Move the file ``path`` to ``destination`` (which must not exist) whole or not at all: a rename, or onto
    another filesystem a copy under a temp name beside ``destination``, renamed into place once complete (removed
    when it fails: a full disk is an OutputError, no truncated file), then ``path`` removed."""
    try:
        os.rename(path, destination)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    atomic_write_with(destination, lambda tmp: shutil.copy2(path, tmp))
    os.unlink(path)


def new_temp(path: str | os.PathLike, suffix: str = ".tmp") -> str:
    """A new empty temp file ``.<name>.<pid>.<random><suffix>`` beside ``path`` (``pid`` this process's), with
    the usual permissions, after removing the stale ones of that pattern that killed writers left there."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    remove_stale_temps(path.parent, path.name, suffix=suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        usual_permissions(tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


STALE_AFTER_S = 3600  # a temp file of a live process (or of no known one) untouched this long is no longer written


def remove_stale_temps(folder: str | os.PathLike, name: str, older_than_s: float = STALE_AFTER_S,
                       suffix: str = ".tmp") -> list[Path]:
    """Delete the temp files ``.<name>.<pid>.<random><suffix>`` (or, from before the pid was named,
    ``.<name>.<random><suffix>``) that ``new_temp``'s killed writers left in ``folder``; return the paths
    removed. A temp whose pid is no live process on this machine goes at once; any other only once it was
    last modified at least ``older_than_s`` seconds ago (a younger one may belong to a writer still at work).
    Best effort: what cannot be removed is left."""
    prefix = f".{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in sorted(entries, key=lambda e: e.name):
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix)):
            continue
        parts = entry.name[len(prefix):len(entry.name) - len(suffix)].split(".")  # mkstemp's random part: no dots
        if not (len(parts) == 1 or len(parts) == 2 and parts[0].isdigit()) or not all(parts):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            writer_gone = len(parts) == 2 and not _is_live(int(parts[0]))
            if stat.S_ISREG(info.st_mode) and (writer_gone or time.time() - info.st_mtime >= older_than_s):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # removed meanwhile by another process, or not ours to remove
            pass
    return removed


def _is_live(pid: int) -> bool:
    """Whether ``pid`` is a process on this machine (one of another user's included)."""
    if pid <= 0:  # 0 would ask about this process group
        return False
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether it could be
    except (ProcessLookupError, OverflowError):  # no such process, or a number no pid can be
        return False
    except PermissionError:  # another user's process
        pass
    return True


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


def remove_unheld_locks(folder: str | os.PathLike) -> list[Path]:
    """Delete the empty ``*.lock`` files in ``folder`` that no process holds (``locked``'s files that a
    killed holder, SIGTERM or kill -9, left); return the paths removed. Safe beside ``locked``: a process
    that opened one of them meanwhile finds it removed once it holds it, and takes the lock on a new file."""
    removed = []
    for path in sorted(Path(folder).glob("*.lock")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # removed meanwhile, a link, or not ours to read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_size == 0 and os.path.samefile(path, fd):
                os.unlink(path)
                removed.append(path)
        except OSError:  # held (BlockingIOError), or removed meanwhile
            pass
        finally:
            os.close(fd)  # lets the lock go
    return removed
