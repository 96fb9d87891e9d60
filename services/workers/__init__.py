"""The work a process does: the long-running loops (fusion, store), ingest (HTTP, raw topics, sockets), the runtime that wires them for one process, and the batch tools (fuse, replay)."""
