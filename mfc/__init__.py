"""The composition root: the ``mfc`` command and the deployed processes, the one layer above ``api``."""
