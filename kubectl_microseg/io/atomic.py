"""Provides atomic file writes that never replace an existing file unless asked to.

``atomic_write`` writes to a temporary file in the target's directory, flushes and fsyncs it, then
moves it into place in one step, so a reader (``kubectl apply -f DIR``, a Git checkout, an editor) sees
either the old file or the complete new one, never half of it:

- without ``overwrite``, the temporary file is hard-linked to the target name; ``link(2)`` fails with
  EEXIST when the name exists, so "check, then create" is one atomic step and a file that appears in
  the meantime is not clobbered. Where the filesystem has no hard links, it falls back to an
  ``O_CREAT|O_EXCL`` placeholder plus ``rename``;
- with ``overwrite``, ``os.replace`` (``rename(2)``) swaps the file atomically.

The directory is fsynced afterwards so the new name survives a crash (POSIX leaves that to the caller).
``write_files`` checks every target before writing any, so a batch is not left half-written because
its fifth file already existed. Usable by any command; no dependency on the rest of the package.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Mapping
import contextlib

_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: directories cannot be opened; rename is durable enough there
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the data itself is already synced
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, overwrite: bool = False,
                 mode: int | None = None, encoding: str = "utf-8") -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: the target file; its directory must exist.
        data: text (encoded with ``encoding``) or bytes.
        overwrite: replace an existing file; without it an existing file raises FileExistsError.
        mode: permission bits of a new file; default 0o666 minus the umask, as ``open()`` would give.
            An overwritten file keeps its current mode.
        encoding: used when ``data`` is text.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false (nothing was written).
        OSError: the directory is missing or not writable, the disk is full, ...
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    payload = data.encode(encoding) if isinstance(data, str) else data
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "file exists", target)
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777 if overwrite else 0o666 & ~_umask()
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_no_clobber(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _link_no_clobber(tmp: str, target: str) -> None:
    """Give ``tmp`` the name ``target`` unless ``target`` exists (then FileExistsError); remove ``tmp``."""
    try:
        os.link(tmp, target)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "file exists", target) from None
        if exc.errno not in _NO_LINK:
            raise
        # no hard links here: reserve the name exclusively, then rename over our own placeholder
        placeholder = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(placeholder)
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def write_new(path: str | os.PathLike[str], data: str | bytes) -> os.PathLike[str] | str:
    """Write ``data`` atomically to ``path``, or to ``stem-1.ext``, ``stem-2.ext``, ... when it exists
    (for writers without a --force option, such as the TUI); returns the path written."""
    from pathlib import Path

    target = Path(path)
    for n in range(1, 10000):
        try:
            atomic_write(target, data)
            return target
        except FileExistsError:
            target = Path(path).with_name(f"{Path(path).stem}-{n}{Path(path).suffix}")
    raise FileExistsError(errno.EEXIST, "no free file name", os.fspath(path))


def existing(paths: list[str]) -> list[str]:
    """The paths of ``paths`` that already exist (in the given order)."""
    return [p for p in paths if os.path.lexists(p)]


def write_files(files: Mapping[str, str | bytes], *, overwrite: bool = False) -> list[str]:
    """Write several files atomically, each one all or nothing; check them all before writing any.

    Args:
        files: path -> content, written in the mapping's order.
        overwrite: replace existing files.

    Returns:
        The paths written.

    Raises:
        FileExistsError: some targets exist and ``overwrite`` is false; ``filename`` is the first one
            and ``args[2:]`` holds none of them, so use ``existing()`` to list them all. Nothing is
            written in that case.
    """
    if not overwrite:
        clash = existing(list(files))
        if clash:
            raise FileExistsError(errno.EEXIST, f"{len(clash)} file(s) exist", clash[0])
    written = []
    for path, content in files.items():
        atomic_write(path, content, overwrite=overwrite)
        written.append(path)
    return written
