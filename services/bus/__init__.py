"""Messaging: the bus interface and its embedded and Kafka backends, the topic contract, feed-time ordering."""
