"""The Dockerfile, read instruction by instruction (no Docker engine runs here)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import ENTRYPOINTS, ROOT

SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY")


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    arguments: str


def instructions(path: Path = ROOT / "Dockerfile") -> list[Instruction]:
    """Instructions with their continuation lines joined; comments dropped."""
    result: list[Instruction] = []
    stage = -1
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, arguments = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.append(Instruction(stage, keyword, " ".join(arguments.split())))
    return result


def stages() -> list[list[Instruction]]:
    grouped: dict[int, list[Instruction]] = {}
    for instruction in instructions():
        grouped.setdefault(instruction.stage, []).append(instruction)
    return [grouped[index] for index in sorted(grouped)]


def stage_named(name: str) -> list[Instruction]:
    for stage in stages():
        if stage[0].arguments.lower().endswith(f" as {name}"):
            return stage
    raise AssertionError(f"no stage named {name}")


def runs(stage: list[Instruction]) -> str:
    return "\n".join(i.arguments for i in stage if i.keyword == "RUN")


@pytest.fixture(scope="module")
def final_stage() -> list[Instruction]:
    return stages()[-1]


def test_runtime_is_python_311_slim(final_stage):
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final_stage[0].arguments)


def test_runtime_runs_as_a_non_root_user(final_stage):
    users = [i.arguments for i in final_stage if i.keyword == "USER"]
    assert users, "the runtime stage never leaves root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    last_user = max(index for index, i in enumerate(final_stage) if i.keyword == "USER")
    assert all(i.keyword != "RUN" for i in final_stage[last_user:]), "commands after USER would run unprivileged"
    assert re.search(rf"useradd .* {re.escape(user)}\b", runs(final_stage)), f"user {user} is never created"


def test_static_assets_are_built_by_node_and_copied_in(final_stage):
    static = stage_named("static")
    assert static[0].arguments.startswith("node:")
    assert "npm ci" in runs(static)
    assert "node scripts/build-static.mjs" in runs(static)
    assert any(i.keyword == "COPY" and i.arguments.startswith("--from=static ") for i in final_stage)


def test_pinned_runtime_requirements_are_installed():
    assert "pip install -r /tmp/requirements/base.txt" in runs(stage_named("python-deps"))
    requirements = (ROOT / "requirements" / "base.txt").read_text().splitlines()
    loose = [line for line in requirements if line.strip() and not line.startswith("#") and "==" not in line]
    assert not loose, f"unpinned runtime requirements: {loose}"


def test_catalogues_are_compiled_and_static_files_collected(final_stage):
    assert "pybabel compile --domain django --directory locale" in runs(final_stage)
    collect = [i.arguments for i in final_stage if i.keyword == "RUN" and "collectstatic --noinput" in i.arguments]
    assert len(collect) == 1
    # With the production settings: their manifest storage is what the web entrypoint needs.
    assert "DJANGO_ENV=production" in collect[0]


def test_no_secret_is_baked_in():
    for instruction in instructions():
        if instruction.keyword in {"ENV", "ARG", "LABEL"}:
            assert not SECRET_NAME.search(instruction.arguments), f"{instruction.keyword} {instruction.arguments}"
    # The only SECRET_KEY is collectstatic's throwaway, scoped to that one RUN.
    for value in re.findall(r"SECRET_KEY=(\S+)", (ROOT / "Dockerfile").read_text()):
        assert value.startswith("build-only-"), value


def test_copied_sources_exist():
    for instruction in instructions():
        if instruction.keyword != "COPY" or instruction.arguments.startswith("--from="):
            continue
        *sources, _ = shlex.split(instruction.arguments)
        for source in sources:
            if source.startswith("--"):
                continue
            assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_default_command_and_healthcheck(final_stage):
    cmd = next(i.arguments for i in final_stage if i.keyword == "CMD")
    script = ROOT / shlex.split(cmd.strip("[]").replace(",", " "))[0]
    assert script.parent == ENTRYPOINTS and script.is_file()
    healthcheck = next(i.arguments for i in final_stage if i.keyword == "HEALTHCHECK")
    assert "/readyz" in healthcheck


def test_docker_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "node_modules", "staticfiles", "var"} <= ignored


def test_the_image_collectstatic_command_runs(tmp_path):
    """The build's collectstatic, run as written: its throwaway settings are enough to load."""
    from tests.deploy.test_env_example import documented

    command = next(i.arguments for i in stages()[-1] if i.keyword == "RUN" and "collectstatic" in i.arguments)
    configuration = set(documented())
    env = {name: value for name, value in os.environ.items() if name not in configuration}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["STATIC_ROOT"] = str(tmp_path / "static")
    result = subprocess.run(["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()


def test_the_static_stage_builds_from_what_it_copies(tmp_path):
    """build-static.mjs, given only the files the node stage copies (and their packages)."""
    if not (ROOT / "node_modules").is_dir() or shutil.which("node") is None:
        pytest.skip("node or node_modules missing: `make static` installs them")
    static = stage_named("static")
    for instruction in static:
        if instruction.keyword == "COPY":
            *sources, target = shlex.split(instruction.arguments)
            for source in sources:
                destination = tmp_path / target
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, destination / Path(source).name)
    # Stands in for `npm ci`, which the image runs against the registry.
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    build = next(i.arguments for i in static if i.keyword == "RUN" and "build-static" in i.arguments)
    result = subprocess.run(shlex.split(build), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "static" / "vendor").iterdir()), "the node stage would copy an empty static/vendor"
