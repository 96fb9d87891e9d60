"""Messaging: the bus interface and its embedded backend (core), the Kafka backend, the topic
contract (topics), feed-time ordering across partitions."""
