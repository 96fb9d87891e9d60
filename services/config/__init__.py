"""A process's configuration: settings from the environment, the limits on untrusted input, the placeholder-secret check, key redaction in logs."""
