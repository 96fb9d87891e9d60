"""Keep keys out of the logs.

The event stream accepts its key in the query string (a browser's ``EventSource`` cannot send a
header), and uvicorn's access log writes each request's full path.  This filter rewrites the
``key=`` parameter of every logged request line, so turning the access log on (``--log-level
info``, a proxy's config) never writes a key to disk.
"""

from __future__ import annotations

import logging
import re

_KEY = re.compile(r"([?&](?:key|api_key|token)=)[^&#\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the value of every ``key=`` query parameter replaced."""
    return _KEY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactKeys(logging.Filter):
    """Rewrites the record's message arguments (uvicorn passes the path as one of them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Attach the filter to uvicorn's loggers (once; idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
