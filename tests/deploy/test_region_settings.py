"""Each region's deploy/env file, plus the one secret the operator adds, is a clean production."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.deploy.conftest import ROOT, region_codes, region_env
from tests.deploy.test_env_example import documented


def _region_process_env(code: str, **extra: str) -> dict[str, str]:
    configuration = set(documented())
    env = {name: value for name, value in os.environ.items() if name not in configuration}
    return {**env, **region_env(code), **extra}


@pytest.mark.parametrize("code", region_codes())
def test_check_deploy_is_clean_with_the_region_file(code):
    env = _region_process_env(code, SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("code", region_codes())
def test_the_region_file_alone_does_not_start(code):
    """Without the operator's SECRET_KEY, production refuses, naming what is missing."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_region_process_env(code),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_ENV=production needs SECRET_KEY" in result.stderr
