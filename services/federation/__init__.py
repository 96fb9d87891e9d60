"""Federation between nodes: what this node shares (outbound, push over HTTPS), what it takes in from partners (inbound), and the links' certificates (pki)."""
