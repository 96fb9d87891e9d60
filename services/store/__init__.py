"""Storage: the SQL store (sql: tracks, history, alerts, incidents, zones, subscriptions, keys' table) and the sensors registered through the API."""
