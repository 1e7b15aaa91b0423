"""Default locations (raw cache, warehouse, mirror, catalogue), environment overrides, and the few constants every layer shares (England's code, the area types). Standard library only."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
CATALOGUE_DIR = DATA_DIR / "indicators"
SOURCES_DIR = DATA_DIR / "sources"
TEMPLATES_DIR = DATA_DIR / "templates"
FAMILIES_FILE = DATA_DIR / "families.toml"
METHODS_FILE = DATA_DIR / "methods.toml"

ENGLAND_CODE = "E92000001"
REGION_PREFIX = "E12"
# The current upper-tier local authorities a user can pick, and every area type the warehouse publishes.
UPPER_TIER_TYPES = ("county", "unitary", "metropolitan district", "london borough")
PUBLISHED_AREA_TYPES = ("country", "region", *UPPER_TIER_TYPES)
# The comparator groups an area is compared with (besides England), in the order pages offer them.
COMPARATOR_GROUPS = ("neighbours", "cipfa", "similar", "region")
USER_AGENT = "drug-treatment-postcode-lottery/0.1 (+https://github.com/; open-source public-health dashboard)"


def default_catalogue_dir() -> Path:
    """The indicator catalogue (data/indicators, or INDICATORS_CATALOGUE): what is fetched, built and shown."""
    return Path(os.environ.get("INDICATORS_CATALOGUE", CATALOGUE_DIR))


def default_raw_dir() -> Path:
    return Path(os.environ.get("INDICATORS_RAW", DATA_DIR / "raw"))


def default_db_path() -> Path:
    return Path(os.environ.get("INDICATORS_DB", DATA_DIR / "warehouse.duckdb"))


def default_mirror() -> Path | None:
    value = os.environ.get("INDICATORS_MIRROR")
    return Path(value) if value else None


def max_download_bytes() -> int:
    """The largest file a fetch accepts, after decompression (INDICATORS_MAX_DOWNLOAD_MB, default 500 MB)."""
    value = os.environ.get("INDICATORS_MAX_DOWNLOAD_MB", "").strip()
    try:
        megabytes = float(value) if value else 500.0
    except ValueError:
        megabytes = 500.0
    return int(megabytes * 1_000_000) if megabytes > 0 else 500_000_000


def default_app_url() -> str | None:
    """The dashboard's public address, for the static site's links back to it (INDICATORS_APP_URL)."""
    return os.environ.get("INDICATORS_APP_URL") or None


def default_site_url() -> str | None:
    """The static site's public address, for the dashboard's links to its pages' static twins (INDICATORS_SITE_URL)."""
    return os.environ.get("INDICATORS_SITE_URL") or None
