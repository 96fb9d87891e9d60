"""Fusion checkpoints: the file (a ZIP of plain data), the codec and its class allow-list, restore, the journal, the legacy pickle reader."""
