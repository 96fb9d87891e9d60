"""The work a process does: the long-running loops (fusion, store), ingest (HTTP, raw topics,
sockets), the runtime that wires them into one process, and the batch tools (fuse, replay)."""
