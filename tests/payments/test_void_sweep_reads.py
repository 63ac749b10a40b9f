"""What the void sweep reads: every payment of a cancelled order still waiting for its void (an
authorization, or an open intent the shopper could still complete), through its partial index."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.utils import timezone

from apps.payments import selectors
from apps.payments.models import Payment
from apps.payments.providers.base import PaymentStatus as S

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def _payment(status: str, *, asked: dt.datetime | None) -> Payment:
    reference = f"R-VOID-{next(_numbers)}"
    return Payment.objects.create(
        order_reference=reference,
        provider="stripe",
        method="card",
        amount_minor=1000,
        currency="USD",
        status=status,
        idempotency_key=f"order:{reference}:intent",
        void_requested_at=asked,
    )


def test_the_sweep_reads_authorizations_and_open_intents_marked_to_be_voided():
    now = timezone.now()
    an_hour_ago = now - dt.timedelta(hours=1)
    waiting = {_payment(status, asked=an_hour_ago).pk for status in (S.AUTHORIZED, S.PENDING, S.FAILED)}
    # Voided, paid, or never marked: nothing to send again.
    for status in (S.CANCELLED, S.SUCCEEDED, S.PROCESSING):
        _payment(status, asked=an_hour_ago)
    _payment(S.PENDING, asked=None)
    # Marked a moment ago: its own void, sent after the cancel's commit, may still be on its way.
    _payment(S.AUTHORIZED, asked=now)

    read = selectors.payments_awaiting_void(requested_before=now - dt.timedelta(minutes=5))

    assert {p.pk for p in read} == waiting


def test_the_sweep_reads_through_its_partial_index():
    sql, params = selectors.payments_awaiting_void(requested_before=timezone.now()).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "payment_void_unsettled" in plan
