"""A circuit breaker per provider, its state in the shared cache (Redis) so every process agrees.

Closed: calls go through; failures (unreachable, timed out, 5xx) are counted in a fixed
window that starts at the first failure. ``PAYMENT_BREAKER_FAILURES`` of them within
``PAYMENT_BREAKER_WINDOW`` seconds open the breaker. Timeouts open it sooner:
``PAYMENT_BREAKER_TIMEOUTS`` of them in a row (no answer between them, within the window),
because every timed-out call kept a shopper waiting for its whole budget, while a refused
connection fails at once.

Open: calls fail at once, without touching the network, for
``PAYMENT_BREAKER_COOLDOWN`` seconds, so a provider outage shows the shopper "try another
method" instead of a checkout that hangs for the length of a timeout.

Half-open: after the cool-down exactly one call (across all processes: ``cache.add`` is
atomic) is let through as a probe. Its success closes the breaker; its failure opens it
for another cool-down. The probe's claim expires on its own, so a process that dies
mid-probe cannot keep the breaker half-open.

Times are stored as wall-clock seconds and compared here, because cache expiries are
whole seconds and the cool-down may be shorter than one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from apps.payments.providers.base import ProviderDeclined, ProviderTimedOut, ProviderUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerOpen(ProviderUnavailable):
    """The breaker is open: we did not even try."""


def _keys(provider: str) -> tuple[str, str, str, str]:
    base = f"payments:breaker:{provider}"
    return f"{base}:failures", f"{base}:open_until", f"{base}:probe", f"{base}:timeouts"


def _longest_call() -> float:
    """Seconds the slowest provider call may take (a background one, with all its retries).

    Per attempt a connect and a read timeout, between attempts the SDKs' backoff (at most
    0.5 s doubling, never above 5 s).
    """
    retries = settings.PAYMENT_PROVIDER_RETRIES
    attempt = settings.PAYMENT_PROVIDER_CONNECT_TIMEOUT + settings.PAYMENT_PROVIDER_TIMEOUT
    return attempt * (retries + 1) + sum(min(0.5 * 2**n, 5) for n in range(retries))


def _ttl(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def state(provider: str) -> str:
    """``closed``, ``open`` or ``half-open`` (cool-down over, next call probes)."""
    open_key = _keys(provider)[1]
    open_until = cache.get(open_key)
    if open_until is None:
        return "closed"
    return "open" if time.time() < open_until else "half-open"


def _admit(provider: str) -> bool:
    """Whether a call may go out; True means it is the half-open probe."""
    _, open_key, probe_key, _ = _keys(provider)
    open_until = cache.get(open_key)
    if open_until is None:
        return False
    if time.time() < open_until:
        raise BreakerOpen(f"{provider} is unavailable (circuit open)")
    probe_ttl = _ttl(_longest_call() + 1)
    if not cache.add(probe_key, 1, timeout=probe_ttl):
        raise BreakerOpen(f"{provider} is unavailable (circuit half-open, probe under way)")
    return True


def _open(provider: str) -> None:
    failures_key, open_key, probe_key, timeouts_key = _keys(provider)
    cooldown = settings.PAYMENT_BREAKER_COOLDOWN
    # The open marker outlives the cool-down: "half-open" is read from an expired timestamp.
    cache.set(open_key, time.time() + cooldown, timeout=_ttl(cooldown + settings.PAYMENT_BREAKER_WINDOW + 3600))
    cache.delete_many([failures_key, probe_key, timeouts_key])
    logger.warning("Payment provider %s circuit opened for %ss", provider, cooldown)


def _count(key: str) -> int:
    """One more in the fixed window counted under ``key``; the new count."""
    cache.add(key, 0, timeout=_ttl(settings.PAYMENT_BREAKER_WINDOW))
    try:
        return cache.incr(key)
    except ValueError:  # the window expired between add and incr: this one starts a new one
        cache.add(key, 1, timeout=_ttl(settings.PAYMENT_BREAKER_WINDOW))
        return 1


def _record_failure(provider: str, *, probe: bool, timed_out: bool) -> None:
    if probe:
        _open(provider)
        return
    failures_key, _, _, timeouts_key = _keys(provider)
    failures = _count(failures_key)
    timeouts = _count(timeouts_key) if timed_out else 0
    if failures >= settings.PAYMENT_BREAKER_FAILURES or timeouts >= settings.PAYMENT_BREAKER_TIMEOUTS:
        _open(provider)


def _record_success(provider: str, *, probe: bool) -> None:
    if probe:
        cache.delete_many(list(_keys(provider)))
        logger.info("Payment provider %s circuit closed", provider)
    else:
        # An answer ends a run of timeouts: only timeouts in a row open the breaker early.
        cache.delete(_keys(provider)[3])


def call(provider: str, func: Callable[[], T]) -> T:
    """Run ``func`` (one provider call) through the breaker of ``provider``.

    :class:`ProviderUnavailable` from ``func`` counts as a failure (a
    :class:`ProviderTimedOut` also as a timeout) and is re-raised; an answer, a
    :class:`ProviderDeclined` included, proves the provider is up.
    """
    probe = _admit(provider)
    try:
        result = func()
    except ProviderUnavailable as exc:
        _record_failure(provider, probe=probe, timed_out=isinstance(exc, ProviderTimedOut))
        raise
    except ProviderDeclined:
        _record_success(provider, probe=probe)
        raise
    except BaseException:
        # Our own bug proves nothing about the provider: give the probe back, keep the state.
        if probe:
            cache.delete(_keys(provider)[2])
        raise
    _record_success(provider, probe=probe)
    return result


def reset(provider: str) -> None:
    """Close the breaker by hand (operators, tests)."""
    cache.delete_many(list(_keys(provider)))
