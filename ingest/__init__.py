"""Ingest boundary: decode, validate and normalise AIS, radar and sensor inputs."""

from ingest.ais import AisDecoder, decode_file_lines
from ingest.errors import IngestError, Reject
from ingest.radar import decode_radar_line, destination_point
from ingest.sensors import load_sensors, sensor_to_dict
from ingest.timeparse import TimeParseError, parse_time

__all__ = [
    "AisDecoder", "IngestError", "Reject", "TimeParseError", "decode_file_lines",
    "decode_radar_line", "destination_point", "load_sensors", "parse_time", "sensor_to_dict",
]
