"""Search on the embedded default (SQLite, no Redis), where PostgreSQL's full-text search is not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SEARCH_SCRIPT = """
import json
import re
from django.conf import settings
from django.test import Client
from apps.accounts import services as accounts
from apps.catalog import services as catalog

region = settings.REGION
owner = accounts.user_create(region=region, email="owner@shop.test", password="a-long-test-password")
shop = accounts.merchant_create(name="Shop", country=region.default_country, owner=owner)
for slug, name in (("silk-scarf", "Silk scarf"), ("wool-hat", "Wool hat")):
    product = catalog.product_create(region=region, merchant=shop, slug=slug, names={region.default_language: name})
    catalog.variant_create(region=region, product=product, sku=slug.upper(), price_minor=1000)
found = {}
for query in ("scarf", "SILK", "hat", "linen"):
    response = Client().get("/search/", {"q": query})
    found[query] = sorted(set(re.findall(r'data-product="([^"]+)"', response.content.decode())))
    assert response.status_code == 200, response.status_code
print(json.dumps({"vendor": __import__("django.db").db.connection.vendor, "found": found}))
"""


def test_search_falls_back_to_substrings_on_the_embedded_default(tmp_path):
    env = {
        **os.environ,
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_ENV": "development",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    answer = json.loads(manage("shell", "-c", SEARCH_SCRIPT).strip().splitlines()[-1])
    assert answer["vendor"] == "sqlite"
    assert answer["found"] == {"scarf": ["silk-scarf"], "SILK": ["silk-scarf"], "hat": ["wool-hat"], "linen": []}
