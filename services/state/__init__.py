"""Fusion checkpoints: the file (a ZIP of plain data), the codec and its class allow-list,
restoring a fusion, the journal, the reader of legacy pickles."""
