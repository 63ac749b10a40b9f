"""Django's database session store, taking only a key Django could have made (see the package)."""

from django.contrib.sessions.backends import db

from livemall.sessions import MadeKeysOnly


class SessionStore(MadeKeysOnly, db.SessionStore):
    pass
