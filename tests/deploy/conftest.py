"""What the deploy tests share: the files under test, read the way Compose reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from regions.loader import REGIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINTS = ROOT / "deploy" / "entrypoints"
REGION_ENV_DIR = ROOT / "deploy" / "env"
# Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and ${VAR?error}.
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def region_codes() -> list[str]:
    """Every region the project has, from its files (a fifth region shows up here too)."""
    return sorted(path.stem for path in REGIONS_DIR.glob("*.toml"))


def region_env(code: str) -> dict[str, str]:
    """deploy/env/<code>.env as KEY -> value (an empty value as "")."""
    return {key: value or "" for key, value in dotenv_values(REGION_ENV_DIR / f"{code}.env").items()}


def compose_variables() -> set[str]:
    """The operator's variables that docker-compose.yml fills in."""
    return {match[0] for match in INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text())}


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())
