"""AIS reporting intervals (ITU-R M.1371-5, Annex 1, Tables 1 and 2): how often a vessel of
a given class, speed and navigational status reports its position, so that a track stays
in the picture for as long as its silence is normal.

Class A: at anchor or moored and not faster than 3 kn, every 3 min; otherwise 10 s up to
14 kn, 6 s up to 23 kn, 2 s beyond (the shorter intervals while changing course are not
needed here: a deadline wants the longest normal silence).  Class B: not faster than 2 kn,
every 3 min; otherwise 30 s (class B "CS"; "SO" sets report faster, which only makes them
safer).  A report without a class (type 27, long-range broadcast) is expected every 3 min.
"""

from __future__ import annotations

AT_ANCHOR, MOORED = 1, 5
SLOW_REPORT_S = 180.0


def reporting_interval_s(ais_class: str | None, sog_kn: float | None, nav_status: int | None) -> float:
    """The nominal time between two position reports of such a vessel, in seconds."""
    speed = sog_kn if sog_kn is not None else 0.0
    if ais_class == "A":
        if nav_status in (AT_ANCHOR, MOORED) and speed <= 3.0:
            return SLOW_REPORT_S
        if speed > 23.0:
            return 2.0
        return 6.0 if speed > 14.0 else 10.0
    if ais_class == "B":
        return SLOW_REPORT_S if speed <= 2.0 else 30.0
    return SLOW_REPORT_S
