"""``manage.py fx_rates_update``: load FX rates now (seed, ``make run``, or by hand)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.errors import ApplicationError
from apps.money import services
from apps.money.providers import EXTENSIONS, RateProvider, check_provider_names, provider_from_settings
from apps.money.providers.ecb import EcbFileProvider


class Command(BaseCommand):
    help = "Fetch FX rates from the configured providers (FX_PROVIDERS) and store the new ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            type=Path,
            help="Read this ECB-format rates file instead of the configured market-rate provider "
            "(the configured extensions, such as pegs, still apply).",
        )
        parser.add_argument("--today", type=dt.date.fromisoformat, help="Treat this day (YYYY-MM-DD) as today.")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = check_provider_names(list(settings.FX_PROVIDERS))
        if problems:
            raise CommandError("; ".join(problems))
        try:
            provider: RateProvider | None = None
            if options["file"]:
                provider = EcbFileProvider(options["file"])
                for name in list(settings.FX_PROVIDERS)[1:]:
                    provider = EXTENSIONS[name](provider)
            result = services.fx_rates_update(provider=provider or provider_from_settings(), today=options["today"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{result.source}: {result.rates_created} new rates, {result.snapshots_created} new snapshots, "
            f"{result.rates_unchanged} already stored; newest rates from {result.latest_rate_date or 'never'}"
        )
        if result.rates_conflicting:
            self.stderr.write(f"{result.rates_conflicting} rates differ from stored ones and were kept as stored.")
        if result.stale:
            self.stderr.write(
                f"The newest rates are older than FX_STALE_AFTER_DAYS={settings.FX_STALE_AFTER_DAYS}; "
                "converted prices will be flagged stale."
            )
