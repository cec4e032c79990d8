"""Every file emastats writes goes through ``write_atomic``: records, reports, summary and figures;
every file it reads from a user or a store goes through ``read_regular``.

Readers see the old file or the new one, never a partial one, and a run killed
or failing at any instant leaves no temporary file behind:

1. the bytes go to a new temporary file in the target's own folder, created
   with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name, so a planted
   file or symlink is never opened or followed (a clash just draws another name);
2. the file is flushed and fsync'ed, then ``os.replace``'d over the target (a
   rename on one file system; a symlink at the target is replaced, not written through);
3. the folder is fsync'ed where the OS allows, so the rename survives a power cut.

Permissions follow the umask like any other program's output (``0o666 & ~umask``:
``-rw-r--r--`` under umask 022), so a web server or a colleague can read a report.
An OS error (read-only folder, disk full, a folder where a file should be) is an
``OutputFileError`` naming the path, which the command line shows as one line, exit 2.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import OutputFileError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_TRIES = 16  # name clashes with 64 random bits only happen when someone plants files on purpose


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """An exclusive new file next to the target; never an existing file or link."""
    for _ in range(_TRIES):
        tmp = folder / f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp  # 0o666: the umask decides, as for any program
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a fresh temporary file in {folder}")


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; returns ``path``.

    Raises ``OutputFileError`` naming ``path`` when the OS refuses; the old file
    is then left as it was and the temporary file removed.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temporary(path.parent, path.name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        # any failure, KeyboardInterrupt included: drop the temporary file, keep the old one
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _fsync_folder(path.parent)
    return path


class NotRegularFile(OSError):
    """A path that is a pipe, device, socket or folder: refused before a single byte is read."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file at ``path`` (more than ``limit`` means: too large).

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO, a
    device such as ``/dev/zero`` or a file swapped for one after a ``stat`` is refused (``NotRegularFile``)
    instead of blocking or being read without end. Other OS errors propagate as ``OSError``.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{path}: not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)
