"""Errors the pipeline raises for bad input; no dependencies beyond the standard library.

Every error names the file (or URL), where in it the problem is (sheet, row, column
or field), and what was expected, so the CLI can print one clear line instead of a
traceback.
"""

from __future__ import annotations

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
