from __future__ import annotations

import datetime as dt

import pytest

from apps.catalog import services
from apps.compliance.models import CertificationType as Cert
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product, today


@pytest.fixture
def operator(db):
    from apps.accounts.models import User

    return User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")


@pytest.fixture
def world(merchant, merchant_b):
    """Each merchant with a product, variant, warehouse, stock row and certificate."""
    rows = {}
    for key, owner in (("a", merchant), ("b", merchant_b)):
        product = make_product(
            owner,
            f"dates-{key}",
            attributes=(A.IS_FOOD,),
            certifications=((Cert.HALAL, today() + dt.timedelta(days=90)),),
        )
        variant = product.variants.get()
        warehouse = services.warehouse_create(merchant=owner, code=f"wh-{key}", name=f"Warehouse {key}", country="US")
        stock = services.stock_set(variant=variant, warehouse=warehouse, quantity=10)
        rows[key] = {
            "product": product,
            "variant": variant,
            "warehouse": warehouse,
            "stock": stock,
            "certification": product.certifications.get(),
        }
    return rows
