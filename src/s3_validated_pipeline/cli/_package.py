"""Build a deterministic zip of a folder: the same tree gives the same bytes, on any machine, at any time.

Pure mechanics, no terminal output: ``build_package`` returns what it wrote and what it left out, and raises
``PackageError`` for what cannot be packaged (a link, a device, an unreadable file).
"""

from __future__ import annotations

import os
import shutil
import stat
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

__all__ = [
    "BUILTIN_EXCLUDES",
    "IGNORE_FILE",
    "PackageError",
    "PackageResult",
    "build_package",
    "zip_timestamp",
]

IGNORE_FILE = ".s3vpignore"
"""The file in the packaged folder's root with more patterns to leave out, in gitignore syntax."""

BUILTIN_EXCLUDES: tuple[str, ...] = (
    ".git/",
    "node_modules/",
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    ".DS_Store",
    "__MACOSX/",
    "Thumbs.db",
)
"""Left out of every package, in gitignore syntax, before the patterns of ``.s3vpignore``.

The ``.env`` exceptions are the ones the package check itself accepts (``DEFAULT_FORBIDDEN``), so what
``package`` keeps, the check does not then reject. A ``.s3vpignore`` line such as ``!node_modules/`` puts a folder
back in."""

_EPOCH_1980 = 315_532_800
"""1980-01-01T00:00:00Z: the earliest time a zip entry can hold."""
_LATEST_ZIP_TIME = 4_354_819_198
"""2107-12-31T23:59:58Z: the latest."""
_FILE_MODE = 0o100644
_EXECUTABLE_MODE = 0o100755
_UNIX = 3
"""``create_system`` of a zip made on Unix: fixed, so the bytes do not depend on the machine that built them."""
_COMPRESS_LEVEL = 6


class PackageError(Exception):
    """Something in the folder cannot be packaged; the message names the path and what to do."""


@dataclass(frozen=True)
class PackageResult:
    """What ``build_package`` wrote and what it left out."""

    output: Path
    files: tuple[str, ...]
    """Paths written, in the zip's order."""
    excluded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """For each pattern that left something out, the paths it left out (folders end with ``/``), in walk order."""
    bytes_in: int = 0
    """Total size of the files written, uncompressed."""


def zip_timestamp(environ: Mapping[str, str] | None = None) -> tuple[int, int, int, int, int, int]:
    """The timestamp of every entry: ``SOURCE_DATE_EPOCH`` (UTC, clamped to what a zip can hold) or 1980-01-01.

    Raises ``PackageError`` when ``SOURCE_DATE_EPOCH`` is set but is not a whole number of seconds.
    """
    env = os.environ if environ is None else environ
    text = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        seconds = _EPOCH_1980
    else:
        try:
            seconds = int(text)
        except ValueError:
            raise PackageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {text!r}") from None
    seconds = min(max(seconds, _EPOCH_1980), _LATEST_ZIP_TIME)
    moment = time.gmtime(seconds)
    # A zip stores seconds in units of two; rounding down here keeps ZipInfo from doing it differently.
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec // 2 * 2)


class _Excluder:
    """The built-in patterns, then ``.s3vpignore``'s, as one gitignore specification (the last match wins)."""

    def __init__(self, extra: Sequence[str]) -> None:
        lines = [line for line in (*BUILTIN_EXCLUDES, *extra) if line.strip() and not line.startswith("#")]
        self._spec = pathspec.GitIgnoreSpec.from_lines(lines)
        patterns = list(self._spec.patterns)
        # One pattern per kept line; if a pathspec release ever drops one, fall back to the pattern's own text.
        self._names = lines if len(patterns) == len(lines) else [str(getattr(p, "pattern", p)) for p in patterns]

    def ordered(self, patterns: Iterable[str]) -> list[str]:
        """``patterns`` in the order they are defined: built-in first, then ``.s3vpignore``'s, then any other."""
        rank = {name: index for index, name in enumerate(self._names)}
        return sorted(patterns, key=lambda name: rank.get(name, len(rank)))

    def pattern_for(self, path: str) -> str | None:
        """The pattern that leaves ``path`` out (a folder's path ends with ``/``), or None when it is kept."""
        result = self._spec.check_file(path)
        if not result.include or result.index is None:
            return None
        return self._names[result.index]


def _read_ignore_file(root: Path) -> list[str]:
    path = root / IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise PackageError(f"cannot read {path}: {exc}") from None
    return [line.rstrip("\r") for line in text.split("\n")]


def _walk(
    root: Path, excluder: _Excluder, skip: Path | None, excluded: dict[str, list[str]]
) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every file to package, as (zip path, path, stat); excluded folders are not entered."""
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            children = sorted(os.scandir(folder), key=lambda child: child.name)
        except OSError as exc:
            raise PackageError(f"cannot read the folder {folder}: {exc.strerror or exc}") from None
        for child in children:
            relative = prefix + child.name
            path = Path(child.path)
            info = child.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            pattern = excluder.pattern_for(relative + "/" if is_dir else relative)
            if pattern is not None:
                excluded.setdefault(pattern, []).append(relative + "/" if is_dir else relative)
            elif skip is not None and not is_dir and path.resolve() == skip:
                excluded.setdefault("(the output file)", []).append(relative)
            elif is_dir:
                pending.append((relative + "/", path))
            elif stat.S_ISLNK(info.st_mode):
                raise PackageError(
                    f"{relative} is a symbolic link, and the pipeline rejects links: replace it with the file it "
                    f"points to, or leave it out with a line in {IGNORE_FILE}"
                )
            elif not stat.S_ISREG(info.st_mode):
                raise PackageError(
                    f"{relative} is not a regular file (a socket, pipe or device): leave it out with a line in "
                    f"{IGNORE_FILE}"
                )
            else:
                try:
                    relative.encode("utf-8")
                except UnicodeEncodeError:
                    shown = relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                    raise PackageError(f"{shown}: the name is not valid UTF-8; rename the file") from None
                yield relative, path, info


def build_package(directory: str | os.PathLike[str], output: str | os.PathLike[str]) -> PackageResult:
    """Zip every file under ``directory`` that no exclusion matches into ``output``, deterministically.

    Entries are sorted by path, files only (no folder entries), each with the same timestamp (``zip_timestamp``),
    mode 0644 or 0755 (when any execute bit is set), Unix as the creating system, deflate level 6 and no extra
    fields. The zip is written beside ``output`` and renamed into place, so a failed run leaves no half-written file.

    Raises ``PackageError`` when the folder holds a link or a special file, or a file cannot be read.
    """
    root = Path(directory)
    if not root.is_dir():
        raise PackageError(f"{root} is not a folder")
    target = Path(output)
    excluder = _Excluder(_read_ignore_file(root))
    excluded: dict[str, list[str]] = {}
    date_time = zip_timestamp()
    files = sorted(_walk(root, excluder, target.resolve(), excluded), key=lambda item: item[0])
    partial = target.with_name(target.name + ".partial")
    written = 0
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL) as zf:
            for name, path, info in files:
                entry = zipfile.ZipInfo(name, date_time=date_time)
                entry.create_system = _UNIX
                entry.external_attr = (_EXECUTABLE_MODE if info.st_mode & 0o111 else _FILE_MODE) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.file_size = info.st_size  # lets zipfile decide on zip64 up front
                try:
                    with path.open("rb") as source, zf.open(entry, "w") as sink:
                        shutil.copyfileobj(source, sink, 1024 * 1024)
                except OSError as exc:
                    raise PackageError(f"cannot read {name}: {exc.strerror or exc}") from None
                written += info.st_size
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return PackageResult(
        output=target,
        files=tuple(name for name, _, _ in files),
        excluded={pattern: tuple(sorted(excluded[pattern])) for pattern in excluder.ordered(excluded)},
        bytes_in=written,
    )
