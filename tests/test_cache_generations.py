"""Generation counters in the real Redis cache: what makes cached listings go stale at once."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from apps.cache_generations import Generation, current_generations


@pytest.fixture
def generation() -> Generation:
    return Generation(f"test:generation:{uuid.uuid4().hex}")


def test_a_generation_holds_until_bumped(generation):
    first = generation.current()
    assert generation.current() == first
    generation.bump()
    assert generation.current() == first + 1


def test_a_lost_counter_restarts_past_every_value_it_had(generation):
    for _ in range(3):
        generation.bump()
    before = generation.current()
    cache.delete(generation.key)  # a Redis restart or an eviction
    assert generation.current() > before

    cache.delete(generation.key)
    generation.bump()  # a bump of a lost counter restarts it too, never at a used value
    assert generation.current() > before


def test_several_generations_read_together(generation):
    other = Generation(generation.key + ":other")
    a, b = current_generations(generation, other)
    other.bump()
    assert current_generations(generation, other) == (a, b + 1)
    assert (generation.current(), other.current()) == (a, b + 1)
