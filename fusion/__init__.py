"""The pure fusion core: observations in, tracks and alerts out.

No I/O, no wall clock, no Kafka, HTTP or database imports here; times are passed in.
"""
