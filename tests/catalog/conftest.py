from __future__ import annotations

import pytest

from apps.accounts import services as accounts


@pytest.fixture
def merchant_b(db, make_user):
    owner = make_user(email="owner@shop-b.test")
    return accounts.merchant_create(name="Shop B", country="US", owner=owner)


@pytest.fixture
def staff_a(merchant, make_user):
    user = make_user(email="staff@shop-a.test")
    accounts.merchant_staff_add(merchant=merchant, user=user)
    return user


@pytest.fixture
def operator(db):
    from apps.accounts.models import User

    return User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")
