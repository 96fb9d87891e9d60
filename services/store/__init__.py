"""Storage: the SQL store (sql: latest tracks, history, alerts, incidents, zones and their
policies) and the sensors registered through the API (sensor_registry)."""
