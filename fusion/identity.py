"""Vessel identity from AIS: MMSI structure (ITU-R M.585) and flag from its MID."""

from __future__ import annotations

from functools import lru_cache


def mid_of(mmsi: int) -> int | None:
    """The Maritime Identification Digits of a ship station MMSI, else None."""
    if 200_000_000 <= mmsi <= 799_999_999:
        return mmsi // 1_000_000
    return None


@lru_cache(maxsize=65536)
def flag_of(mmsi: int | None) -> str | None:
    """ISO 3166 alpha-2 flag state of a ship MMSI, or None when unallocated or not a ship."""
    if mmsi is None or mid_of(mmsi) is None:
        return None
    from pyais.util import get_country  # imported when first needed: a radar-only run never loads pyais
    code, _ = get_country(mmsi)
    return None if code in ("", "NA") else code
