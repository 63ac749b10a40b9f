"""Shared fixtures. The suite runs on real PostgreSQL and Redis (see Makefile `test`)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/livemall")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")


@pytest.fixture
def region(settings):
    return settings.REGION


@pytest.fixture
def use_region(settings):
    """Switch the process to another region for one test: ``use_region("me-south")``."""
    from regions import load_region

    def switch(code: str):
        settings.REGION = load_region(code)
        return settings.REGION

    return switch


@pytest.fixture
def stripe_fake(settings):
    """Stripe's API as a local fake, with the keys and webhook secret pointed at it."""
    from tests.payments.fakes import FakeStripe, stripe_served_by

    yield from stripe_served_by(FakeStripe(), settings)


@pytest.fixture
def paypal_fake(settings):
    """PayPal's API as a local fake, with the client credentials and webhook id pointed at it."""
    from tests.payments.fakes import PAYPAL_WEBHOOK_ID, FakePayPal

    fake = FakePayPal()
    fake.webhook_id = PAYPAL_WEBHOOK_ID
    settings.PAYPAL_CLIENT_ID = "paypal-client-id"
    settings.PAYPAL_CLIENT_SECRET = "paypal-client-secret"
    settings.PAYPAL_WEBHOOK_ID = PAYPAL_WEBHOOK_ID
    settings.PAYPAL_API_BASE = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def payment_settings(settings):
    """No payment keys leak in from the environment (the labelled test provider stands in), short
    timeouts, no retries. The orders and payments folders each add how soon their breaker opens."""
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "PAYPAL_CLIENT_ID",
        "PAYPAL_CLIENT_SECRET",
        "PAYPAL_WEBHOOK_ID",
    ):
        setattr(settings, name, None)
    settings.PAYMENT_TEST_PROVIDER = True
    settings.PAYMENT_PROVIDER_TIMEOUT = 2
    settings.PAYMENT_PROVIDER_RETRIES = 0
    settings.PAYMENT_BREAKER_WINDOW = 60
    settings.PAYMENT_BREAKER_COOLDOWN = 30
    settings.PAYMENT_WEBHOOK_TOLERANCE = 300
    return settings


@pytest.fixture
def mark_in_german(monkeypatch):
    """``mark_in_german(*msgids)``: German gives those msgids back marked ``[de] …`` (no .po may be
    edited in a test), so a text that comes out marked went through gettext."""
    from django.utils.translation import trans_real

    catalog = trans_real.translation("de")
    real = catalog.gettext

    def mark(*msgids: str) -> None:
        ours = set(msgids)
        monkeypatch.setattr(catalog, "gettext", lambda message: f"[de] {message}" if message in ours else real(message))

    return mark


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run ``func`` and then its on-commit callbacks (signals, e-mails), as a real commit would."""

    def run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run


@pytest.fixture
def celery_inline():
    """Tasks run in the test's process, as in the embedded default."""
    from livemall.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _rates_log_reset():
    """Missing-rates errors are logged once per process per interval: each test starts unlogged."""
    from apps.money.selectors import rates_log_reset

    rates_log_reset()


@pytest.fixture
def make_user(db, region):
    from apps.accounts import services

    counter = iter(range(1, 1_000_000))

    def make(email: str | None = None, password: str = "a-long-test-password", **fields):
        return services.user_create(
            region=region, email=email or f"user{next(counter)}@example.test", password=password, **fields
        )

    return make


@pytest.fixture
def merchant(db, make_user):
    from apps.accounts import services

    owner = make_user(email="owner@shop-a.test")
    return services.merchant_create(name="Shop A", country="US", owner=owner)


@pytest.fixture
def merchant_b(db, make_user):
    """A second shop beside Shop A, for what one merchant may not see or do to another's."""
    from apps.accounts import services

    return services.merchant_create(name="Shop B", country="US", owner=make_user(email="owner@shop-b.test"))


def _staff_of(merchant, make_user, email: str):
    from apps.accounts import services

    user = make_user(email=email)
    services.merchant_staff_add(merchant=merchant, user=user)
    return user


@pytest.fixture
def staff_a(merchant, make_user):
    return _staff_of(merchant, make_user, "staff@shop-a.test")


@pytest.fixture
def staff_b(merchant_b, make_user):
    return _staff_of(merchant_b, make_user, "staff@shop-b.test")


@pytest.fixture
def operator_client(client, make_user):
    """The test's ``client``, signed in as a staff superuser (the admin's operator)."""
    operator = make_user(email="ops@livemall.test")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    return client


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here).

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in the main
    thread while it is open, which would break every later test that calls ``asyncio.run``.
    """
    if not os.path.exists(CHROMIUM):
        print(f"SKIPPED browser test: {CHROMIUM} is missing (make test installs Debian's chromium as root)")
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
    # same test are still plain synchronous calls.
    # Set only while the browser is open, so that subprocesses started by later tests
    # (``check --deploy`` among them) do not inherit it.
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def artifacts_dir():
    from pathlib import Path

    path = Path(__file__).resolve().parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def shipped_country_rules(db):
    """The country rules the compliance migrations ship, put back when an earlier
    transactional test flushed them (``transaction=True`` tests empty every table)."""
    import importlib

    from django.apps import apps as django_apps

    from apps.compliance.models import ProductRule

    if not ProductRule.objects.exists():
        for migration, function in (
            ("0002_default_rules", "add_defaults"),
            ("0004_us_and_sea_rules", "add_rules"),
            ("0005_us_food_colours_in_french", "add_french"),
        ):
            module = importlib.import_module(f"apps.compliance.migrations.{migration}")
            getattr(module, function)(django_apps, None)


@pytest.fixture
def asgi_url(transactional_db, settings):
    """http://127.0.0.1:<port> of uvicorn serving the project's ASGI application (the checkout's
    door, Django, the live-room sockets), static files from the source folders as under ``live_server``."""
    import uuid

    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from livemall.asgi import application
    from tests.servers import uvicorn_in_thread

    settings.LIVE_REDIS_PREFIX = f"test-live-{uuid.uuid4().hex[:12]}"
    app = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(application), "websocket": application})
    with uvicorn_in_thread(app) as server:
        yield f"http://127.0.0.1:{server.port}"
