"""What the command line needs of the settings before it loads them.

``mfc fuse`` and the other batch commands never read the service settings; keeping these two
names out of ``services.config.settings`` spares them its imports (pydantic, SQLAlchemy), a third of
a second of every start."""

from __future__ import annotations

ROLES = ("officer", "agency", "integrator", "admin")


class SettingsError(ValueError):
    pass
