"""Output files of one command, written as a unit or not at all.

Every command that writes files (``margin --plot``, ``batch --out``, ``cascade --out/--plot/
--ledger``, ``backtest --out DIR``, ``partition --out DIR``, ``oracles --out``, ``venue-case
--emit-*``) goes through one :class:`OutputFiles` transaction::

    with OutputFiles() as files:
        files.declare("--out", out, suffixes=(".json",))      # checked before any work
        files.declare("--plot", plot, suffixes=(".png",))
        ...                                                     # compute
        files.stage("--out", lambda p: p.write_text(text))     # written to a temporary file
        files.stage("--plot", lambda p: plot_cascade(res, p))
        files.commit()                                          # all renamed into place

The rules, in order:

1. **Declared up front.** Every output is checked before anything is computed: its suffix, its
   directory (exists, is a directory, writable), that it is not a directory itself, and that no
   two outputs of the command resolve to the same file (symbolic links and hard links included).
2. **One writer per file.** Declaring an output takes an exclusive, non-blocking lock
   (``flock``) on a lock file next to it (``.<name>.crossmargin-lock``), held until the command
   ends: a second crossmargin process writing the same file at the same time fails with one line
   instead of both reporting success for a file only one of them wrote. The lock file is removed
   on release; a lock left by a killed process is released by the kernel and taken over.
3. **Temporary files next to the targets.** Each output is written to a temporary file in its
   target's directory (same file system, so the rename is atomic), flushed to disk (fsync).
4. **All renamed, or none.** Only when every output has been written are they renamed into
   place; an existing target is kept as a hard-linked backup until all renames succeeded, and
   restored if one fails. After the renames each target is checked to be the file this process
   wrote (same inode). Any failure removes every temporary file, backup and created directory.

A directory output (``backtest --out DIR``) is staged as a whole: if ``DIR`` does not exist its
files are written into a temporary sibling directory renamed to ``DIR`` at commit; if it exists,
its files are staged inside it and renamed one by one as above. ``DIR``'s parent must exist. A
new directory tree (``partition --out DIR``, which must not exist) is filled by one writer in
the temporary sibling directory (:meth:`OutputFiles.stage_tree`) and renamed the same way.

Errors are :class:`~crossmargin.errors.InputError` naming the option (``--out: ...``) or the
file, so the command line prints one line and exits with code 2.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crossmargin._closing import Closing
from crossmargin.errors import InputError

__all__ = ["OutputFiles", "write_bytes", "write_text"]

LOCK_SUFFIX = ".crossmargin-lock"


def write_text(text: str) -> Callable[[Path], None]:
    """A writer of UTF-8 text, for :meth:`OutputFiles.stage`."""

    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    return write


def write_bytes(data: bytes) -> Callable[[Path], None]:
    """A writer of bytes, for :meth:`OutputFiles.stage`."""

    def write(p: Path) -> None:
        p.write_bytes(data)

    return write


def _cannot(path: Path, opt: str, why: str) -> InputError:
    """``<file>: cannot write file (<option>): <why>``."""
    return InputError(f"cannot write file ({opt}): {why}", path=str(path))


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # pragma: no cover - best effort (e.g. a file system without directory fds)
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Lock:
    path: Path
    fd: int

    @classmethod
    def acquire(cls, path: Path, target: Path, opt: str) -> _Lock:
        """Take the lock file ``path`` (non-blocking); retry if it was replaced meanwhile."""
        for _ in range(100):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise _cannot(target, opt, _reason(exc)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise _cannot(
                        target,
                        opt,
                        "it is being written by another crossmargin process; run one writer "
                        "at a time",
                    ) from None
                raise _cannot(target, opt, f"cannot lock it: {_reason(exc)}") from None
            # the previous holder may have unlinked the file between our open and our flock
            try:
                same = os.path.samestat(os.fstat(fd), path.stat())
            except FileNotFoundError:
                same = False
            if same:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                return cls(path, fd)
            os.close(fd)
        raise _cannot(target, opt, "cannot lock it")  # pragma: no cover

    def release(self) -> None:
        """Remove the lock file (while still holding it), then release it."""
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self.fd)


@dataclass(slots=True)
class _Output:
    opt: str
    target: Path  # resolved (symbolic links followed)
    shown: Path  # as the user wrote it
    is_dir: bool
    lock: _Lock | None = None
    #: temporary file → its target (one entry for a file output, one per file for a directory)
    staged: dict[Path, Path] = field(default_factory=dict)
    #: a directory output that did not exist: its files are written into this new directory
    staged_dir: Path | None = None
    #: (device, inode) of every staged file, checked at its target after the renames
    inodes: dict[Path, tuple[int, int]] = field(default_factory=dict)


class OutputFiles(Closing):
    """The output files of one command: declared first, written together, or not at all."""

    def __init__(self) -> None:
        self._outputs: dict[str, _Output] = {}
        self._committed = False

    def close(self) -> None:
        """Discard everything not committed and release the locks."""
        for out in self._outputs.values():
            if not self._committed:
                for tmp in out.staged:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                if out.staged_dir is not None:
                    shutil.rmtree(out.staged_dir, ignore_errors=True)
            if out.lock is not None:
                out.lock.release()
                out.lock = None
        self._outputs.clear()

    @property
    def declared(self) -> tuple[str, ...]:
        """The options declared so far (outputs the user asked for)."""
        return tuple(self._outputs)

    # -- declare --------------------------------------------------------------------------------
    def declare(
        self, opt: str, path: Path | None, *, suffixes: tuple[str, ...] | None = None
    ) -> None:
        """Check an output file before any work and take its lock (``None``: not requested)."""
        if path is not None:
            self._declare(opt, Path(path), is_dir=False, suffixes=suffixes)

    def declare_dir(self, opt: str, path: Path | None) -> None:
        """Check an output directory (created if missing; its parent must exist)."""
        if path is not None:
            self._declare(opt, Path(path), is_dir=True, suffixes=None)

    def _declare(
        self, opt: str, shown: Path, *, is_dir: bool, suffixes: tuple[str, ...] | None
    ) -> None:
        if opt in self._outputs:
            raise InputError("given twice", path=opt)
        if not str(shown).strip():
            raise InputError("empty path", path=opt)
        if suffixes is not None and shown.suffix.lower() not in suffixes:
            raise InputError(f"must end in {' or '.join(suffixes)}", path=opt)
        try:
            target = shown.resolve()
        except (OSError, RuntimeError) as exc:  # a symbolic-link loop
            raise _cannot(shown, opt, f"cannot resolve the path: {exc}") from None
        parent = target.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise _cannot(shown, opt, f"directory {shown.parent} {what}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _cannot(shown, opt, f"directory {shown.parent} is not writable")
        if is_dir:
            if target.exists() and not target.is_dir():
                raise _cannot(shown, opt, "it exists and is not a directory")
            if target.is_dir() and not os.access(target, os.W_OK | os.X_OK):
                raise _cannot(shown, opt, "the directory is not writable")
        elif target.is_dir():
            raise _cannot(shown, opt, "it is a directory")
        for other in self._outputs.values():
            if _same(target, other.target) or _nested(target, is_dir, other):
                raise _cannot(
                    shown, opt, f"it is also the output of {other.opt}; give each its own file"
                )
        out = _Output(opt, target, shown, is_dir)
        out.lock = _Lock.acquire(parent / f".{target.name}{LOCK_SUFFIX}", shown, opt)
        self._outputs[opt] = out

    # -- stage ----------------------------------------------------------------------------------
    def stage(self, opt: str, write: Callable[[Path], None], *, name: str | None = None) -> None:
        """Write one output into a temporary file next to its target.

        ``write`` receives the path to write (with the target's suffix). ``name`` is the file
        name inside a directory output (required for those, refused for files). Nothing is
        visible at the target until :meth:`commit`.
        """
        out = self._outputs.get(opt)
        if out is None or out.is_dir != (name is not None):
            raise RuntimeError(
                f"output {opt} was not declared as a {'directory' if name else 'file'}"
            )
        if name is not None:
            if Path(name).name != name or name in (".", ".."):
                raise InputError(f"bad output file name {name!r}", path=opt)
            target = out.target / name
        else:
            target = out.target
        if target in out.staged.values():
            raise RuntimeError(f"output {target} staged twice")
        try:
            if name is not None and not out.target.is_dir():
                # a new directory: its files are written under their own names into a private
                # sibling directory, renamed as a whole at commit
                tmp = self._new_dir(out) / name
                tmp.touch(exist_ok=False)
            else:
                fd, tmp_name = tempfile.mkstemp(
                    prefix=f".{target.name}.",
                    suffix=f".crossmargin-tmp{target.suffix}",
                    dir=target.parent,
                )
                os.close(fd)
                tmp = Path(tmp_name)
        except OSError as exc:
            raise _cannot(out.shown, opt, _reason(exc)) from None
        out.staged[tmp] = target
        try:
            write(tmp)
            tmp.chmod(0o666 & ~_umask())  # mkstemp creates 0600: a normal file's permissions
            _fsync_path(tmp)
            st = tmp.stat()
        except OSError as exc:
            raise _cannot(out.shown, opt, _reason(exc)) from None
        out.inodes[target] = (st.st_dev, st.st_ino)

    def stage_tree(self, opt: str, write: Callable[[Path], None]) -> None:
        """Write a whole new directory output (files and subdirectories) at once.

        ``write`` receives an empty private directory next to the target and fills it; it is
        renamed to the target at :meth:`commit`. The target must not exist (checked before
        ``write`` runs, and again at the rename).
        """
        out = self._outputs.get(opt)
        if out is None or not out.is_dir or out.staged or out.staged_dir is not None:
            raise RuntimeError(f"output {opt} was not declared as a directory, or staged twice")
        if out.target.exists():
            raise _cannot(out.shown, opt, "it already exists; give a new directory")
        try:
            tmp = self._new_dir(out)
        except OSError as exc:
            raise _cannot(out.shown, opt, _reason(exc)) from None
        write(tmp)
        st = tmp.stat()
        out.inodes[out.target] = (st.st_dev, st.st_ino)

    def _new_dir(self, out: _Output) -> Path:
        if out.staged_dir is None:
            out.staged_dir = Path(
                tempfile.mkdtemp(
                    prefix=f".{out.target.name}.", suffix=".crossmargin-tmp", dir=out.target.parent
                )
            )
            out.staged_dir.chmod(0o777 & ~_umask())
        return out.staged_dir

    # -- commit ---------------------------------------------------------------------------------
    def commit(self) -> list[Path]:
        """Rename every staged output into place, all or none; return the paths as given."""
        done: list[tuple[Path, Path | None]] = []  # (target, its backup; None: it was new)
        opt = next(iter(self._outputs), "output")
        try:
            for out in self._outputs.values():
                opt = out.opt
                if out.staged_dir is not None:
                    if out.target.exists():  # created by someone else meanwhile: never merge
                        raise _cannot(out.shown, out.opt, "it was created while this command ran")
                    out.staged_dir.rename(out.target)
                    done.append((out.target, None))
                    out.staged_dir = None
                    out.staged.clear()
                    continue
                for tmp, target in out.staged.items():
                    backup = _backup(target)
                    done.append((target, backup))
                    tmp.replace(target)
            for out in self._outputs.values():
                _verify(out)
        except BaseException as exc:
            _roll_back(done)
            if isinstance(exc, OSError):
                raise _cannot(Path(str(exc.filename or opt)), opt, _reason(exc)) from None
            raise
        for _, backup in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        for d in {out.target.parent for out in self._outputs.values()}:
            _fsync_path(d, directory=True)
        self._committed = True
        shown = [out.shown for out in self._outputs.values()]
        self.close()
        return shown


def _verify(out: _Output) -> None:
    """Every target is the file this process wrote (nobody replaced it since)."""
    for target, ino in out.inodes.items():
        try:
            st = target.stat()
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != ino:
            raise _cannot(target, out.opt, "it was replaced by another writer meanwhile")


def _roll_back(done: list[tuple[Path, Path | None]]) -> None:
    for target, backup in reversed(done):
        with contextlib.suppress(OSError):
            if backup is not None:
                backup.replace(target)
                backup.unlink(missing_ok=True)  # rename onto a hard link of itself is a no-op
            elif target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.samefile(b)
    except OSError:
        return False


def _nested(path: Path, is_dir: bool, other: _Output) -> bool:
    """Whether a file lies inside a directory output (either way round)."""
    if other.is_dir and not is_dir:
        return other.target in path.parents
    if is_dir and not other.is_dir:
        return path in other.target.parents
    return False


def _backup(target: Path) -> Path | None:
    """A hard link to an existing target, restored if a later rename fails."""
    if not target.exists() or target.is_dir():
        return None
    for i in range(100):
        b = target.with_name(f".{target.name}.crossmargin-bak{os.getpid()}-{i}")
        try:
            os.link(target, b)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: no rollback for this file
            return None
        return b
    return None  # pragma: no cover
