"""Apply the database migrations, one runner at a time.

Two ``migrate`` runs on the same PostgreSQL database at once (two hosts deploying, a
scaled one-off service, an operator running it by hand during a rollout) race on the same
DDL and one of them fails half-way. A session-level advisory lock, taken on its own
connection before Django looks at the migration state, makes the second run wait and
then find nothing left to do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Any fixed 64-bit number works; it only has to be the same for every runner.
MIGRATION_LOCK_ID = 0x4C4D_4D49_4752_4154  # "LMMIGRAT"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livemall.settings")

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connections

    # The deploy's first step: a setting that breaks the shop (a payment key without its
    # partner, apps.payments.checks) stops it here, before any server starts with it.
    call_command("check")
    if connections["default"].vendor != "postgresql":
        # The embedded SQLite default serves one process on one machine.
        call_command("migrate", interactive=False)
        return 0

    lock = connections.create_connection("default")
    try:
        with lock.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            if not cursor.fetchone()[0]:
                print("migrate: another runner is migrating this database; waiting for it", flush=True)
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        call_command("migrate", interactive=False)
    finally:
        # Closing the session releases the advisory lock, also when migrate failed.
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
