"""Planning a batch: what the user named on the command line -> one item per scan.

An input is a scan file, a ``.conf`` scan set (one item: its scans are merged), a folder
(every readable scan in it, sorted; files that a ``.conf`` in the same folder lists
belong to that set and are not items of their own) or a text file listing inputs, one
per line (``#`` starts a comment; relative paths are relative to the list's folder).

A ``.txt`` file can be either a point cloud or a list. It is a list when none of its
first lines is a row of numbers and at least one names a scan file or a folder.

An input that does not exist, or a list entry that does not, becomes an item with an
``error``: its report row fails with that message and nothing else is affected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.scans.scanio import SCAN_EXTENSIONS

LIST_EXTENSIONS = (".txt", ".lst", ".list")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_PEEK_LINES = 20


@dataclass(frozen=True)
class BatchItem:
    """One scan of the batch: its report name, its files, or why it cannot be read."""

    name: str
    files: tuple[str, ...]
    error: str | None = None


def plan_inputs(inputs: Sequence[str | os.PathLike]) -> list[BatchItem]:
    """The batch items of ``inputs`` in the order given, with unique names.

    Raises ConfigError when nothing at all was given or found.
    """
    if not inputs:
        raise ConfigError("batch: no inputs given")
    found: list[tuple[str, tuple[str, ...], str | None]] = []
    for raw in inputs:
        _expand(Path(raw), found, seen_lists=set())
    if not found:
        raise ConfigError("batch: no scans found in " + ", ".join(str(i) for i in inputs))
    items: list[BatchItem] = []
    used: set[str] = set()
    seen_files: set[tuple[str, ...]] = set()
    for stem, files, error in found:
        key = tuple(os.path.abspath(f) for f in files)
        if error is None and key in seen_files:
            continue  # the same scan named twice (a folder and one of its files)
        seen_files.add(key)
        items.append(BatchItem(_unique(stem, used), files, error))
    return items


def _unique(stem: str, used: set[str]) -> str:
    name = re.sub(r"[^\w.+-]", "_", stem) or "scan"
    candidate, k = name, 2
    while candidate.lower() in used:
        candidate, k = f"{name}-{k}", k + 1
    used.add(candidate.lower())
    return candidate


def _expand(path: Path, out: list, seen_lists: set[Path]) -> None:
    if path.is_dir():
        _expand_folder(path, out)
        return
    if not path.exists():
        out.append((path.stem or path.name, (str(path),), f"{path}: no such file or folder"))
        return
    if path.suffix.lower() in LIST_EXTENSIONS and is_list_file(path):
        key = path.resolve()
        if key in seen_lists:
            return  # a list that names itself
        seen_lists.add(key)
        for entry in _list_entries(path):
            _expand(entry, out, seen_lists)
        return
    out.append((path.stem, (str(path),), None))


def _expand_folder(folder: Path, out: list) -> None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SCAN_EXTENSIONS)
    in_sets: set[Path] = set()
    for conf in (p for p in files if p.suffix.lower() == ".conf"):
        in_sets.update(_conf_members(conf))
    for p in files:
        if p.resolve() in in_sets:
            continue
        if p.suffix.lower() in LIST_EXTENSIONS and is_list_file(p):
            continue  # a list inside a scanned folder is not a scan (and is not followed)
        out.append((p.stem, (str(p),), None))


def _conf_members(conf: Path) -> set[Path]:
    """The files a ``.conf`` scan set places (its ``bmesh NAME ...`` lines)."""
    members: set[Path] = set()
    try:
        text = conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return members
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) >= 2 and tokens[0] == "bmesh":
            members.add((conf.parent / tokens[1]).resolve())
    return members


def _peek(path: Path) -> list[str]:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return []
    if b"\0" in head:
        return []
    lines = []
    for raw in head.decode("utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
        if len(lines) >= _PEEK_LINES:
            break
    return lines


def is_list_file(path: Path) -> bool:
    """Whether a text file lists inputs (rather than holding points)."""
    lines = _peek(path)
    if not lines:
        return False
    for line in lines:
        tokens = re.split(r"[\s,;]+", line)
        if tokens and all(_NUMBER.match(t) for t in tokens if t):
            return False  # a row of numbers: a point cloud
    for line in lines:
        p = Path(line) if Path(line).is_absolute() else path.parent / line
        if p.suffix.lower() in SCAN_EXTENSIONS or p.is_dir():
            return True
    return False


def _list_entries(path: Path) -> list[Path]:
    text = path.read_text(encoding="utf-8", errors="replace")
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            p = Path(line).expanduser()
            entries.append(p if p.is_absolute() else path.parent / p)
    return entries
