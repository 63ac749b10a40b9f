"""The signed-in user of a request, from the shared cache instead of a database query.

Every signed-in request loaded its user with a query (a pooled connection taken and given
back, the query built and sent): on the cached listing page the only database work, about
two thirds of what a signed-in request cost over an anonymous one. The user's row is kept in
the cache next to a *generation*, a random token that changes on every write to the user
(``post_save``/``post_delete``, ``QuerySet.update``/``bulk_update``; at once and again after
the transaction commits). A cached row is used only while the generation it was read under is
still the current one, and only for the plain case: an active user whose session hash matches
the current ``SECRET_KEY``. Anything else (no entry, a changed generation, an inactive user, a
password changed elsewhere, a rotated key, another backend) is decided by Django's own
``get_user`` from the database, exactly as without this cache. So deactivation, a password
change and signing out take effect on the very next request; a change made behind the ORM's
back (raw SQL) shows within ``AUTH_USER_CACHE_SECONDS``.

The generation is read *before* the database when a row is fetched, so a row read just before
a concurrent write is stored under the old generation and never used. Only with a cache all
processes share (Redis); ``AUTH_USER_CACHE_SECONDS = 0`` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

logger = logging.getLogger(__name__)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _seconds() -> int:
    return int(getattr(settings, "AUTH_USER_CACHE_SECONDS", 0) or 0)


@functools.lru_cache(maxsize=1)
def _layout() -> tuple[tuple[str, ...], str]:
    """The user's columns, and a digest of them for the key (a release that adds one misses)."""
    names = tuple(field.attname for field in auth.get_user_model()._meta.concrete_fields)
    return names, hashlib.sha256(",".join(names).encode()).hexdigest()[:8]


def _keys(pk: Any) -> tuple[str, str]:
    return f"accounts:user-gen:{pk}", f"accounts:user-row:{_layout()[1]}:{pk}"


def forget(pks: Iterable[Any]) -> None:
    """A new generation for each of these users: their cached rows are not used again."""
    seconds = _seconds()
    if not seconds:
        return
    generations = {_keys(pk)[0]: secrets.token_hex(8) for pk in pks}
    if generations:
        # Never swallowed: a write whose cached copies could not be invalidated must not look done.
        cache.set_many(generations, seconds * 2)


def forget_now_and_after_commit(pks: Iterable[Any]) -> None:
    """At once (this request and readers during the transaction) and again once committed
    (a reader that read the old row before the commit stored it under the old generation)."""
    pks = list(pks)
    if not pks or not _seconds():
        return
    forget(pks)
    transaction.on_commit(lambda: forget(pks))


def get_user(request: HttpRequest) -> Any:
    """``django.contrib.auth.get_user`` with the user's row from the cache when it is current."""
    seconds = _seconds()
    session = request.session
    backend_path = session.get(BACKEND_SESSION_KEY)
    if not seconds or backend_path != MODEL_BACKEND or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    model = auth.get_user_model()
    try:
        user_id = model._meta.pk.to_python(session[SESSION_KEY])
    except Exception:
        return auth.get_user(request)
    gen_key, row_key = _keys(user_id)
    try:
        found = cache.get_many([gen_key, row_key])
    except Exception:
        logger.warning("user cache unavailable; reading the user from the database", exc_info=True)
        return auth.get_user(request)
    generation, row = found.get(gen_key), found.get(row_key)
    names, _ = _layout()
    if generation is not None and isinstance(row, tuple) and len(row) == 2 and row[0] == generation:
        user = model.from_db(DEFAULT_DB_ALIAS, names, row[1])
        session_hash = session.get(HASH_SESSION_KEY)
        if (
            ModelBackend().user_can_authenticate(user)
            and session_hash
            and constant_time_compare(session_hash, user.get_session_auth_hash())
        ):
            return user
        # Not the plain case: Django decides (sign-out, key rotation...) from the database.
        return auth.get_user(request)

    user = auth.get_user(request)
    if isinstance(user, AnonymousUser) or not isinstance(user, model) or user.pk != user_id:
        return user
    try:
        if generation is None:
            generation = secrets.token_hex(8)
            # Someone else (a writer) set one meanwhile: store nothing this time.
            if not cache.add(gen_key, generation, seconds * 2):
                return user
        cache.set(row_key, (generation, tuple(getattr(user, name) for name in names)), seconds)
    except Exception:
        logger.warning("user cache unavailable; not storing the user", exc_info=True)
    return user
