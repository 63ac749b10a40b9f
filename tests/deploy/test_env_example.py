"""Every environment variable the code reads is documented in .env.example.

The names are found by reading the code, not listed by hand, so a setting added later
fails here until .env.example describes it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import urlsplit

from tests.deploy.conftest import ENTRYPOINTS, ROOT, compose_variables

ENV_HELPERS = {"env", "env_bool", "env_int", "env_list"}
# settings.py reads these; regions/loader.py reads REGION for it.
SETTINGS_SOURCES = [ROOT / "livemall" / "settings.py", ROOT / "regions" / "loader.py"]
# Names the entrypoints set for themselves or take from the shell, not configuration.
SHELL_INTERNALS = {"LIVEMALL_ROOT", "PATH", "PYTHONPATH", "DJANGO_SETTINGS_MODULE", "BASH_SOURCE"}
# Read by the tools underneath, not by our code.
READ_BY_TOOLS = {"PGPASSWORD": "libpq", "FORWARDED_ALLOW_IPS": "uvicorn"}
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def _is_os(node: ast.expr, attribute: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attribute
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _name_read_by(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable, when ``node`` reads one from the environment."""
    if isinstance(node, ast.Subscript) and _is_os(node.value, "environ"):
        return node.slice
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    helper = isinstance(func, ast.Name) and func.id in ENV_HELPERS
    environ_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_os(func.value, "environ")
    return node.args[0] if helper or environ_get or _is_os(func, "getenv") else None


def environment_reads(source: str) -> set[str]:
    """Names read through the settings helpers, os.environ.get/[...] and os.getenv."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        name = _name_read_by(node)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            names.add(name.value)
    return names


def settings_variables() -> set[str]:
    names: set[str] = set()
    for path in SETTINGS_SOURCES:
        names |= environment_reads(path.read_text())
    return names


def entrypoint_variables() -> set[str]:
    names: set[str] = set()
    for path in ENTRYPOINTS.glob("*.sh"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    for path in ENTRYPOINTS.glob("*.py"):
        names |= environment_reads(path.read_text())
    return names - SHELL_INTERNALS


def documented(path: Path = ROOT / ".env.example") -> dict[str, str]:
    """KEY -> the comment block right above its assignment ("" when there is none)."""
    result: dict[str, str] = {}
    comment: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = ASSIGNMENT.match(stripped)
        if match:
            assert match.group(1) not in result, f".env.example sets {match.group(1)} twice"
            result[match.group(1)] = " ".join(comment).strip()
        comment = []
    return result


def test_the_reader_finds_what_settings_reads():
    # Guards the scanner itself: if it found nothing, the test below would pass vacuously.
    found = settings_variables()
    assert {"DJANGO_ENV", "REGION", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL"} <= found
    assert {"DB_CONN_MAX_AGE", "CELERY_BROKER_URL", "SECURE_HSTS_SECONDS", "LOG_LEVEL"} <= found
    assert environment_reads('import os\nx = os.environ["A"]\ny = os.getenv("B")\nz = env_int("C", 1)\n') == {
        "A",
        "B",
        "C",
    }


def test_every_settings_variable_is_documented():
    missing = sorted(settings_variables() - set(documented()))
    assert not missing, f".env.example does not document {', '.join(missing)}"


def test_every_entrypoint_variable_is_documented():
    found = entrypoint_variables()
    assert {"WEB_PORT", "WAIT_FOR_SERVICES_TIMEOUT", "CELERY_BEAT_SCHEDULE"} <= found
    missing = sorted(found - set(documented()))
    assert not missing, f".env.example does not document {', '.join(missing)}"


def test_every_documented_variable_is_read_by_something():
    """A renamed or removed setting leaves no stale entry behind."""
    known = settings_variables() | entrypoint_variables() | compose_variables() | set(READ_BY_TOOLS)
    stale = sorted(set(documented()) - known)
    assert not stale, f".env.example documents {', '.join(stale)}, which nothing reads"


def test_every_variable_has_its_comment():
    uncommented = sorted(name for name, comment in documented().items() if not comment)
    assert not uncommented, f".env.example has no comment above {', '.join(uncommented)}"


def test_no_secret_has_a_value():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "PGPASSWORD", "WAREHOUSE_URL"):
        assert values[name] == "", f".env.example gives {name} a value; secrets stay empty there"
    for name, value in values.items():
        if "://" in value:
            assert urlsplit(value).password is None, f"{name} carries a password in .env.example"
