"""A process's configuration: settings from the environment, the caps on untrusted input
(limits), the placeholder-secret check, keys kept out of the logs."""
