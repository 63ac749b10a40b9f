"""docker-compose.yml and the region files it picks, read as Compose would read them.

No Docker engine runs here, so the file is checked by parsing; the entrypoints it names
are run for real in test_entrypoints.py.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from regions import load_region
from tests.deploy.conftest import (
    ENTRYPOINTS,
    INTERPOLATION,
    REGION_ENV_DIR,
    ROOT,
    compose_variables,
    region_codes,
    region_env,
)
from tests.deploy.test_env_example import documented, settings_variables

APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("web", "worker", "beat")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}; an unmet :? raises like Compose."""

    def replace(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = variables.get(name)
        unset = (operator in {":-", ":?"} and not value) or (operator in {"-", "?"} and value is None)
        if unset:
            if operator.endswith("?"):
                raise LookupError(f"{name}: {argument}")
            return argument or ""
        return value or ""

    return INTERPOLATION.sub(replace, text)


def test_the_stack_has_its_services(compose):
    assert {"web", "worker", "beat", "db", "redis", "migrate"} <= set(compose["services"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_runs_an_entrypoint_that_exists(compose, service):
    command = compose["services"][service]["command"]
    script = ROOT / command[0]
    assert script.parent == ENTRYPOINTS, f"{service} runs {command[0]}, not one of deploy/entrypoints/"
    assert script.is_file() and os.access(script, os.X_OK), f"{script} is missing or not executable"


@pytest.mark.parametrize("code", region_codes())
@pytest.mark.parametrize("service", APP_SERVICES)
def test_region_picks_its_env_file(compose, service, code):
    env_file = compose["services"][service]["env_file"]
    path = ROOT / interpolate(env_file, {"REGION": code})
    assert path == REGION_ENV_DIR / f"{code}.env"
    assert path.is_file(), f"REGION={code} would read {path}, which does not exist"
    assert region_env(code)["REGION"] == code


def test_without_region_the_stack_is_us_east(compose):
    assert ROOT / interpolate(compose["services"]["web"]["env_file"], {}) == REGION_ENV_DIR / "us-east.env"


def test_every_region_file_belongs_to_a_region():
    assert sorted(path.stem for path in REGION_ENV_DIR.glob("*.env")) == region_codes()


def test_web_healthcheck_asks_readyz_on_a_host_the_regions_allow(compose):
    web = compose["services"]["web"]
    command = " ".join(web["healthcheck"]["test"])
    assert web["healthcheck"]["test"][0] == "CMD", "exec form: the slim image needs no shell or curl"
    url = re.search(r"http://[^'\" ]+", command).group(0)
    parts = urlsplit(url)
    assert parts.path == "/readyz"
    # Django answers 400 to a Host it does not allow, which would read as "unhealthy".
    for code in region_codes():
        assert parts.hostname in region_env(code)["ALLOWED_HOSTS"].split(","), code
    published = [port for port in web["ports"] if port.endswith(f":{parts.port}")]
    assert published, "the healthcheck port is not the port the web service publishes"


def test_servers_have_their_own_healthchecks(compose):
    db, redis = compose["services"]["db"], compose["services"]["redis"]
    assert "pg_isready" in db["healthcheck"]["test"]
    assert db["healthcheck"]["test"][-4:] == ["--username", "livemall", "--dbname", "livemall"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "inspect ping" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])


def test_server_versions(compose):
    assert re.fullmatch(r"postgres:1[56](\D.*)?", compose["services"]["db"]["image"])
    assert re.fullmatch(r"redis:7(\D.*)?", compose["services"]["redis"]["image"])


def test_start_order_waits_for_healthy_servers_and_finished_migrations(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["db"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    for name in LONG_RUNNING:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["migrate"]["restart"] == "no"
    # Nothing else migrates: the web entrypoint must not race its own replicas.
    assert "migrate" not in (ENTRYPOINTS / "web.sh").read_text()


def test_data_lives_in_named_volumes(compose):
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    mounts = {volume.split(":")[1] for volume in compose["services"]["db"]["volumes"]}
    assert "/var/lib/postgresql/data" in mounts


def test_no_secret_is_written_in_the_compose_file(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]+|:-)\}", str(value)), (
                    f"{name}.{key} must come from the operator's environment as ${{VAR:?message}} or ${{VAR:-}}"
                )
    # The stack does not start without the secrets every region needs.
    for key in ("SECRET_KEY", "PGPASSWORD"):
        with pytest.raises(LookupError):
            interpolate(compose["services"]["web"]["environment"][key], {})
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"], {})


def test_database_url_names_the_compose_database(compose):
    db = compose["services"]["db"]["environment"]
    for code in region_codes():
        url = urlsplit(region_env(code)["DATABASE_URL"])
        assert (url.hostname, url.port, url.path.lstrip("/")) == ("db", 5432, db["POSTGRES_DB"]), code
        assert url.username == db["POSTGRES_USER"], code
        assert url.password is None, f"{code}: the database password belongs in the operator's environment"
        redis_url = urlsplit(region_env(code)["REDIS_URL"])
        assert (redis_url.hostname, redis_url.password) == ("redis", None), code


@pytest.mark.parametrize("code", region_codes())
def test_region_env_file_holds_no_secret_and_only_known_settings(code):
    values = region_env(code)
    assert values["DJANGO_ENV"] == "production"
    for name in values:
        assert not SECRET_NAME.search(name), f"{code}.env sets {name}; secrets come from the environment"
    for name, value in values.items():
        if "://" in value:
            assert urlsplit(value).password is None, f"{code}.env: {name} carries a password"
    unknown = set(values) - settings_variables() - set(documented())
    assert not unknown, f"{code}.env sets {sorted(unknown)}, which nothing reads"


def test_a_region_that_forbids_warehouse_sync_has_no_warehouse():
    forbidding = [code for code in region_codes() if not load_region(code).warehouse_sync_allowed]
    assert forbidding, "the design has at least one region whose data never leave it"
    for code in forbidding:
        assert region_env(code).get("WAREHOUSE_URL", "") == "", code
        assert "never leave" in (REGION_ENV_DIR / f"{code}.env").read_text(), f"{code}.env should say why"


def test_every_interpolated_variable_is_documented():
    found = compose_variables()
    assert {"REGION", "SECRET_KEY", "POSTGRES_PASSWORD"} <= found
    missing = sorted(found - set(documented()))
    assert not missing, f".env.example does not document {', '.join(missing)}"
