"""Who may do and see what: API keys (the key store, the keyring a process accepts), releasability (visibility), the alert and incident workflow."""
