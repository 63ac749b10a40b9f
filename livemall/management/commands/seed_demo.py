from django.conf import settings
from django.core.management.base import BaseCommand

from livemall.demo import DEMO_COUPON_CODE, DEMO_PASSWORD, demo_coupon_describe, demo_rates_load, seed_demo


class Command(BaseCommand):
    help = (
        "Create demo merchants, staff logins, products, upcoming shows and a coupon for the current region, "
        "and load the configured FX rates (idempotent)."
    )

    def handle(self, *args, **options) -> None:
        region = settings.REGION
        logins = seed_demo(region=region)
        self.stdout.write(f"Demo data for {region.name} ({region.code}). Every password: {DEMO_PASSWORD}")
        for login in logins:
            merchant = f" — {login.merchant}" if login.merchant else ""
            self.stdout.write(f"  {login.role:<15} {login.email}{merchant}")
        self.stdout.write(f"  {'coupon':<15} {DEMO_COUPON_CODE} — {demo_coupon_describe(region=region)}")
        # After the seed's own transaction: the rates commit on their own, as the daily task's do.
        self.stdout.write(demo_rates_load(region=region))
