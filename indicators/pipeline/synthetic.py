"""Recognising synthetic test data in the raw cache by the marker its generator writes into every file; standard library only.

The test-data generator (tests/synthetic_data.py) writes MARKER into the content of every file it
makes (in each row where the format allows), never only into a file name, so a file renamed or
copied elsewhere is still recognised. The build scans every file it reads for the marker (in the
same pass that computes its sha256) and records in `published.build_info` that the warehouse was
built from synthetic data; pages and exports then say so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MARKER = "SYNTHETIC TEST DATA: NOT REAL FIGURES"
NOTICE = "Built from synthetic test data: these are not real figures."
BUILD_ID_PREFIX = "synthetic-"
PUBLISHER = "Synthetic test data (not real figures)"

_MARKER_BYTES = MARKER.encode("ascii")
_CHUNK = 1 << 20


def scan(path: Path) -> tuple[str, bool]:
    """(sha256 of the file, whether it carries the synthetic-data marker), in one read."""
    digest = hashlib.sha256()
    found = False
    tail = b""
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
            if not found:
                found = _MARKER_BYTES in tail + chunk
                tail = chunk[-(len(_MARKER_BYTES) - 1):]
    return digest.hexdigest(), found
