"""Federation between nodes: what this node shares (outbound; push over HTTPS), what it takes in
from partner nodes (inbound), and the links' certificates (pki)."""
