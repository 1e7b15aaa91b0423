"""Errors the pipeline raises for bad input; no dependencies beyond the standard library.

Every error names the file (or URL), where in it the problem is (sheet, row, column
or field), and what was expected, so the CLI can print one clear line instead of a
traceback; a write the operating system refuses names the path and the condition (WriteError).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class IndicatorsError(Exception):
    """Base class: an error the CLI reports as a message, never as a traceback."""


class InputError(IndicatorsError):
    """A source file is unreadable or does not have the shape its parser expects."""

    def __init__(self, file: str | Path, problem: str, *, where: str | None = None,
                 expected: str | None = None) -> None:
        self.file = str(file)
        self.problem = problem
        self.where = where
        self.expected = expected
        parts = [f"{self.file}"]
        if where:
            parts.append(f"{where}")
        message = ": ".join(parts) + f": {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)


class FetchError(IndicatorsError):
    """A download failed after its retries; the raw cache is unchanged."""


class BuildError(IndicatorsError):
    """The build could not produce a warehouse that passes its checks."""


class CheckFailed(IndicatorsError):
    """A contract check on a warehouse failed."""


class WarehouseMissing(IndicatorsError):
    """There is no warehouse at the given path."""


class WriteError(IndicatorsError):
    """The operating system refused to write a file or folder (a full disk, a read-only or unwritable folder)."""

    def __init__(self, path: str | Path, condition: str, consequence: str = "") -> None:
        self.path, self.condition = str(path), condition
        super().__init__(f"cannot write {path}: {condition}" + (f"; {consequence}" if consequence else ""))


# How the operating system words the conditions that stop a write (DuckDB passes these on in its messages).
OS_CONDITIONS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied",
                 "File too large", "Not a directory", "Is a directory", "Too many open files",
                 "Input/output error")


def write_condition(exc: BaseException, *paths: str | Path) -> str | None:
    """The condition, when `exc` is the operating system refusing to write one of `paths` (or a file it does not
    name, as when a write() fails on a full disk); None for anything else, such as a file being read."""
    if isinstance(exc, OSError):
        if exc.filename is None or str(exc.filename) in {str(p) for p in paths}:
            return exc.strerror or str(exc)
        return None
    text = str(exc).lower()
    return next((c for c in OS_CONDITIONS if c.lower() in text), None)


@contextmanager
def writing(path: str | Path, *also: str | Path, consequence: str = "") -> Iterator[None]:
    """Report the operating system refusing to write `path` (or its temporary files `also`) as a WriteError naming
    `path` and the condition, instead of an unexpected error."""
    try:
        yield
    except IndicatorsError:
        raise
    except Exception as exc:
        condition = write_condition(exc, path, *also)
        if condition is None:
            raise
        raise WriteError(path, condition, consequence) from exc


def discard(*paths: str | Path) -> list[str]:
    """Remove temporary files after a write (or its failure); returns those that could not be removed.

    Never raises: a failed clean-up must not hide the error that made it necessary."""
    left = []
    for path in map(Path, paths):
        if not os.path.lexists(path):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            left.append(str(path))
    return left


def require_unique_columns(file: str | Path, header: list, where: str = "header row") -> None:
    """An InputError naming the first column that appears twice in `header` (names compared trimmed and ignoring
    case, as the parsers look them up; empty names are left alone): a reader would otherwise take one of the two
    columns silently (pandas renames the second 'Value.1')."""
    seen: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        key = str(name).strip().lstrip("\ufeff").casefold()
        if not key:
            continue
        if key in seen:
            raise InputError(file, f"column {str(name).strip()!r} appears twice (columns {seen[key]} and {number})",
                             where=where, expected="each column once")
        seen[key] = number


def csv_header(path: str | Path) -> list[str]:
    """The first record of a CSV file (UTF-8, with or without a byte-order mark); empty for an empty file."""
    import csv

    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])
