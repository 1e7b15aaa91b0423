"""Safe reading of published Excel workbooks (.xls and .xlsx) with python-calamine; shared by the workbook parsers.

Anything that is not a readable workbook (missing, empty, an HTML page saved as a workbook,
truncated or corrupt) becomes an InputError naming the file, never a calamine traceback.
"""

from __future__ import annotations

from pathlib import Path

from python_calamine import CalamineWorkbook

from indicators.errors import InputError

HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")


def read_sheets(path: Path, expected: str) -> dict[str, list[list]]:
    """All sheets of the workbook as lists of rows, by sheet name."""
    if not path.is_file():
        raise InputError(path, "file not found", expected=expected)
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)", expected=expected)
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.lstrip().lower().startswith(HTML_STARTS):
        raise InputError(path, "file is an HTML/XML page, not a workbook (did the download return a web page?)",
                         expected=expected)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
    except Exception as exc:  # calamine raises several error types for corrupt files
        raise InputError(path, f"cannot be read as a workbook ({type(exc).__name__}: {exc})",
                         expected=expected) from exc
    sheets: dict[str, list[list]] = {}
    for name in names:
        try:
            sheets[name] = workbook.get_sheet_by_name(name).to_python()
        except Exception as exc:
            raise InputError(path, f"sheet cannot be read ({type(exc).__name__}: {exc})",
                             where=f"sheet {name!r}", expected=expected) from exc
    return sheets
