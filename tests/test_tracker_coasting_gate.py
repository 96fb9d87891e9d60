"""A track coasting for minutes does not take another vessel's echo kilometres from it.

Seen in `all-alerts`: an identified ship left its radar's and its AIS receiver's range at once;
its track coasted ten minutes, then took the echo of a vessel 5.7 km away heading the other way,
then one 19 km away ("92 kn"), and its MMSI was reported "silent while radar still holds the
vessel".  Positions are placed with pyproj's WGS 84 geodesics, independent of the tracker's."""

from __future__ import annotations

from pyproj import Geod

from fusion.model import Observation, Sensor
from fusion.tracker import Tracker

GEOD = Geod(ellps="WGS84")
T0 = 1_795_000_000.0
RADAR = (9.0, 100.3)
RANGE_M = 20_000.0
KN = 1852.0 / 3600.0
MMSI = 351_335_122


def fwd(p: tuple[float, float], bearing: float, m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(p[1], p[0], bearing, m)
    return lat, lon


def test_a_coasting_identified_track_does_not_take_a_stranger_five_km_off():
    tracker = Tracker({"R1": Sensor("R1", "radar", *RADAR, range_m=RANGE_M, accuracy_m=50.0, scan_period_s=3.0),
                       "AIS-1": Sensor("AIS-1", "ais", *RADAR, range_m=RANGE_M)})
    # the ship: 14 kn due east, reporting AIS every 10 s and seen by the radar every 3 s, until it
    # reaches the edge of both ranges (t_out); after that nothing of it reaches the centre
    start = fwd(RADAR, 270.0, 10_000.0)
    t_out = (RANGE_M + 10_000.0 - 200.0) / (14 * KN)
    lines = []
    t = 0.0
    while t <= t_out:
        pos = fwd(start, 90.0, 14 * KN * t)
        scan = [Observation("radar_plot", "R1", T0 + t, *pos, sigma_m=50.0)]
        if round(t) % 9 == 0:
            scan.append(Observation("ais_position", "AIS-1", T0 + t, *pos, sigma_m=10.0, mmsi=MMSI,
                                    sog_kn=14.0, cog_deg=90.0))
        lines += tracker.update(scan)
        t += 3.0
    last_ais = fwd(start, 90.0, 14 * KN * t_out)
    # ten minutes later a stranger appears 5.7 km west-south-west of where the ship would be,
    # inside the radar's range, heading 223° at 17.7 kn, seen at every scan from then on
    t_in = t_out + 600.0
    ship_then = fwd(last_ais, 90.0, 14 * KN * 600.0)
    stranger0 = fwd(ship_then, 255.0, 5_700.0)
    assert GEOD.inv(RADAR[1], RADAR[0], stranger0[1], stranger0[0])[2] < RANGE_M
    while t <= t_in + 900.0:
        scan = []
        if t >= t_in:
            scan.append(Observation("radar_plot", "R1", T0 + t, *fwd(stranger0, 223.0, 17.7 * KN * (t - t_in)),
                                    sigma_m=50.0))
        lines += tracker.update(scan) if scan else tracker.advance(T0 + t)
        t += 3.0
    lines += tracker.flush()
    ship = [ln for ln in lines if ln.mmsi == MMSI]
    assert ship, "the ship's track was published"
    # the ship's track never takes the stranger: it never heads back west, never claims a speed
    # no ship makes, and never sits on the stranger's path
    for ln in ship:
        assert ln.sog_kn < 30.0, ln
        if ln.time_s > T0 + t_out:
            assert ln.lon > last_ais[1] - 0.005, ("the identified track moved back west onto the stranger", ln)
    # the stranger gets a track of its own, without the ship's MMSI
    stranger = [ln for ln in lines if ln.time_s > T0 + t_in + 60 and ln.mmsi is None
                and ln.status in ("confirmed", "coasting")]
    assert stranger, "the stranger was tracked"
