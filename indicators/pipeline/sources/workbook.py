"""Safe reading of published Excel workbooks (.xls and .xlsx) with python-calamine; shared by the workbook parsers.

Anything that is not a readable workbook (missing, empty, an HTML page saved as a workbook,
truncated or corrupt) becomes an InputError naming the file, never a calamine traceback.

What is read is bounded before calamine sees the file: calamine holds a sheet as a dense grid from
its first to its last used cell, so a small .xlsx with one cell at A1 and one at XFD1048576 (or a
<dimension> claiming that range) would make it allocate 17 billion cells and abort the process
with a native stack trace. An .xlsx is a zip of XML parts: its sizes, and every sheet's cell
references, are checked first (check_bounds). An .xls is at most 65,536 x 256 cells by its format,
so its file size is the only bound it needs.
"""

from __future__ import annotations

import re
import zipfile
from operator import itemgetter
from pathlib import Path

from python_calamine import CalamineWorkbook

from indicators.errors import InputError

HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")

# The published workbooks are at most a few MB, and their sheets a few hundred rows by a few dozen columns
# (the largest, ONS mid-year population, about 430 x 100); these bounds are far above them.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_UNPACKED_BYTES = 400 * 1024 * 1024  # all parts of an .xlsx together, uncompressed
MAX_SHEET_CELLS = 5_000_000  # rows x columns from a sheet's first to its last cell (what calamine allocates)

# The `r` reference of a cell (r="B7") or a row (r="7"): in SpreadsheetML only <c> and <row> have an `r`
# attribute. A sheet's <dimension ref="A1:D9"> (namespace prefix or not).
_CELL_REF = re.compile(rb"\sr=[\"']([A-Z]{0,3})([0-9]{1,9})[\"']")
_DIMENSION = re.compile(rb"dimension\s+ref=[\"']([A-Z]{1,3})([0-9]{1,9})(?::([A-Z]{1,3})([0-9]{1,9}))?[\"']")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def check_bounds(path: Path, expected: str) -> None:
    """Refuse a workbook larger than MAX_FILE_BYTES, or an .xlsx whose parts unpack to more than
    MAX_UNPACKED_BYTES or one of whose sheets spans more than MAX_SHEET_CELLS cells."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(path, f"the file is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a workbook is read up to",
                         expected=expected)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            unpacked = sum(part.file_size for part in parts)
            if unpacked > MAX_UNPACKED_BYTES:
                raise InputError(path, f"its parts unpack to {unpacked:,} bytes, more than the "
                                       f"{MAX_UNPACKED_BYTES:,} a workbook is read up to", expected=expected)
            for part in parts:  # every XML part: a sheet need not be where sheets usually are
                if part.filename.lower().endswith(".xml"):
                    _check_sheet(path, archive, part, expected)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise InputError(path, f"cannot be read as a workbook ({type(exc).__name__}: {exc})", expected=expected) from None


def _check_sheet(path: Path, archive: zipfile.ZipFile, part: zipfile.ZipInfo, expected: str) -> None:
    """Scan one sheet's XML (in chunks, never whole) for the range its cells and its <dimension> span."""
    rows: list[int] = []
    columns: list[int] = []
    cells = 0
    carry = b""
    with archive.open(part) as xml:
        while True:
            chunk = xml.read(1 << 20)
            buffer = carry + chunk
            cut = buffer.rfind(b"<") if chunk else len(buffer)  # leave a tag cut by the chunk for the next one
            text, carry = buffer[:max(cut, 0)], buffer[max(cut, 0):]
            for match in _DIMENSION.finditer(text):
                first_col, first_row, last_col, last_row = match.groups()
                columns += [_column_number(first_col), _column_number(last_col or first_col)]
                rows += [int(first_row), int(last_row or first_row)]
            refs = _CELL_REF.findall(text)
            rows += map(int, set(map(itemgetter(1), refs)))
            columns += map(_column_number, set(map(itemgetter(0), refs)) - {b""})
            # Cells without a reference take the next column: count cell elements too (with or without a
            # namespace prefix; other elements starting with "c" only make the count safer).
            cells += text.count(b"<c") + text.count(b":c")
            rows, columns = ([min(rows), max(rows)] if rows else []), ([min(columns), max(columns)] if columns else [])
            if not chunk:
                break
    height = rows[1] - rows[0] + 1 if rows else 0
    width = columns[1] - columns[0] + 1 if columns else 0
    if max(height * width, cells) > MAX_SHEET_CELLS:
        raise InputError(path, f"a sheet spans {height:,} rows by {width:,} columns ({max(height * width, cells):,} "
                               f"cells), more than the {MAX_SHEET_CELLS:,} a sheet is read up to",
                         where=part.filename, expected=expected)


def column_letter(col: int) -> str:
    """Excel's letters for a 0-based column index: 0 -> 'A', 25 -> 'Z', 26 -> 'AA' (for messages naming a cell)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


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
    check_bounds(path, expected)
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
