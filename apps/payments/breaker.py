"""A circuit breaker per provider, its state in the shared cache (Redis) so every process agrees.

Closed: calls go through; failures (unreachable, timed out, 5xx) are counted in a fixed
window that starts at the first failure. ``PAYMENT_BREAKER_FAILURES`` of them within
``PAYMENT_BREAKER_WINDOW`` seconds open the breaker.

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

from apps.payments.providers.base import ProviderDeclined, ProviderUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerOpen(ProviderUnavailable):
    """The breaker is open: we did not even try."""


def _keys(provider: str) -> tuple[str, str, str]:
    base = f"payments:breaker:{provider}"
    return f"{base}:failures", f"{base}:open_until", f"{base}:probe"


def _ttl(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def state(provider: str) -> str:
    """``closed``, ``open`` or ``half-open`` (cool-down over, next call probes)."""
    _, open_key, _ = _keys(provider)
    open_until = cache.get(open_key)
    if open_until is None:
        return "closed"
    return "open" if time.time() < open_until else "half-open"


def _admit(provider: str) -> bool:
    """Whether a call may go out; True means it is the half-open probe."""
    _, open_key, probe_key = _keys(provider)
    open_until = cache.get(open_key)
    if open_until is None:
        return False
    if time.time() < open_until:
        raise BreakerOpen(f"{provider} is unavailable (circuit open)")
    probe_ttl = _ttl(settings.PAYMENT_PROVIDER_TIMEOUT * (settings.PAYMENT_PROVIDER_RETRIES + 1) + 1)
    if not cache.add(probe_key, 1, timeout=probe_ttl):
        raise BreakerOpen(f"{provider} is unavailable (circuit half-open, probe under way)")
    return True


def _open(provider: str) -> None:
    failures_key, open_key, probe_key = _keys(provider)
    cooldown = settings.PAYMENT_BREAKER_COOLDOWN
    # The open marker outlives the cool-down: "half-open" is read from an expired timestamp.
    cache.set(open_key, time.time() + cooldown, timeout=_ttl(cooldown + settings.PAYMENT_BREAKER_WINDOW + 3600))
    cache.delete_many([failures_key, probe_key])
    logger.warning("Payment provider %s circuit opened for %ss", provider, cooldown)


def _record_failure(provider: str, *, probe: bool) -> None:
    if probe:
        _open(provider)
        return
    failures_key, _, _ = _keys(provider)
    cache.add(failures_key, 0, timeout=_ttl(settings.PAYMENT_BREAKER_WINDOW))
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # the window expired between add and incr: this failure starts a new one
        cache.add(failures_key, 1, timeout=_ttl(settings.PAYMENT_BREAKER_WINDOW))
        failures = 1
    if failures >= settings.PAYMENT_BREAKER_FAILURES:
        _open(provider)


def _record_success(provider: str, *, probe: bool) -> None:
    if probe:
        cache.delete_many(list(_keys(provider)))
        logger.info("Payment provider %s circuit closed", provider)


def call(provider: str, func: Callable[[], T]) -> T:
    """Run ``func`` (one provider call) through the breaker of ``provider``.

    :class:`ProviderUnavailable` from ``func`` counts as a failure and is re-raised; an
    answer, a :class:`ProviderDeclined` included, proves the provider is up.
    """
    probe = _admit(provider)
    try:
        result = func()
    except ProviderUnavailable:
        _record_failure(provider, probe=probe)
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
