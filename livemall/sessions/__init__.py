"""Django's session stores, taking only a session key Django could have made.

A session cookie is read as it comes: ``sessionid="abc\\000…"`` (a quoted cookie's octal
escape, plain ASCII on the wire) becomes a key holding a NUL byte, and PostgreSQL refuses
NUL in text, so looking it up failed every page, API call and socket handshake with a 500.
Django makes its keys of lowercase letters and digits (``VALID_KEY_CHARS``); any other key
names no session, and the request goes on as one without a session (a new one if it needs one).
``SESSION_ENGINE`` names ``livemall.sessions.db`` or ``livemall.sessions.cached_db``.
"""

from __future__ import annotations

import re

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, SessionBase

_KEY = re.compile(f"[{re.escape(VALID_KEY_CHARS)}]+")


class MadeKeysOnly(SessionBase):
    """A session store's key check: Django's (at least 8 characters) and only Django's characters."""

    def _validate_session_key(self, key: str | None) -> bool:
        return bool(super()._validate_session_key(key)) and _KEY.fullmatch(key or "") is not None
