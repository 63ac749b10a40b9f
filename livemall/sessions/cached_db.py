"""Django's cached database session store, taking only a key Django could have made (see the package)."""

from django.contrib.sessions.backends import cached_db

from livemall.sessions import MadeKeysOnly


class SessionStore(MadeKeysOnly, cached_db.SessionStore):
    pass
