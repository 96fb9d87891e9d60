"""Who may do and see what: API keys (the key store; the keyring one process accepts),
releasability (visibility), the alert and incident workflow."""
