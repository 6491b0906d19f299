"""The container files, read as Docker and Compose read them (no Docker engine here): the compose
file builds the image of the Dockerfile for gateways and workers, each long-running service has
a health check, only the proxy publishes the gateways' port (so they scale), and every variable
it sets is one Picket reads; the Dockerfile is multi-stage, installs from the lock, and runs a
user other than root in a final stage without compilers; the lock pins every dependency; the
image's health check follows the command the container runs."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PICKET_SERVICES = ("gateway", "worker", "migrate")


def _env_names_read(path: Path, function: str) -> set[str]:
    """The variable names `function` in `path` reads: `env.get("X")`, `env["X"]`."""
    tree = ast.parse(path.read_text())
    [node] = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "get" \
                and sub.args and isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, str):
            names.add(sub.args[0].value)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str):
            names.add(sub.slice.value)
    return {n for n in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)}


# What `picket.config.from_env` reads (Kafka's variables through `KafkaConnection.from_env`).
READ = _env_names_read(REPO / "services" / "config.py", "from_env") | \
    _env_names_read(REPO / "services" / "bus" / "connection.py", "from_env")


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def _stages() -> list[tuple[str, list[str]]]:
    """The Dockerfile's stages: (FROM line, instructions), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    stages: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


# --- compose ---

def test_gateways_and_workers_run_the_image_built_from_the_dockerfile() -> None:
    for name in PICKET_SERVICES:
        service = SERVICES[name]
        build = service["build"]
        assert build == "." or build.get("context") == ".", name
        assert "image" not in service, f"{name}: two services building one tag collide in a first `compose build`"
        assert not any("/app" in str(v) for v in service.get("volumes", ())), f"{name} mounts the repository"
        assert "pip install" not in str(service.get("command", "")) + str(service.get("entrypoint", ""))
    assert SERVICES["gateway"]["command"][0] == "gateway" and SERVICES["worker"]["command"] == ["worker"]


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no":
            continue  # runs to completion (migrate): what follows waits for its exit code
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    assert "/_health/ready" in SERVICES["gateway"]["healthcheck"]["test"]
    assert "/opt/picket/healthcheck.py" in SERVICES["worker"]["healthcheck"]["test"]
    assert "PICKET_METRICS_LISTEN" in _environment(SERVICES["worker"])  # what the worker's check reads


def test_migrations_run_once_before_gateways_and_workers_start() -> None:
    assert "store.migrate" in str(SERVICES["migrate"]["entrypoint"])
    assert "--no-migrate" in SERVICES["gateway"]["command"]
    for name in ("gateway", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_gateways_scale_behind_the_proxy_which_alone_publishes_their_port() -> None:
    assert "ports" not in SERVICES["gateway"] and "ports" not in SERVICES["worker"]
    assert SERVICES["proxy"]["ports"] == ["8000:8000"]
    mounted = [v.split(":")[0] for v in SERVICES["proxy"]["volumes"]]
    caddyfile = (REPO / mounted[0]).read_text()
    assert re.search(r"dynamic a gateway 8000", caddyfile)  # every gateway container, looked up again
    assert "--scale gateway=" in (REPO / "docker-compose.yml").read_text()


def test_the_variables_set_for_picket_are_ones_it_reads() -> None:
    assert {"KAFKA_BOOTSTRAP", "CLICKHOUSE_URL", "PICKET_DATA_DIR", "PICKET_METRICS_LISTEN"} <= READ  # a check that can fail
    for name in PICKET_SERVICES:
        for variable in _environment(SERVICES[name]):
            if variable.startswith("AWS_"):
                continue  # the S3 client's own (boto3)
            assert variable in READ, f"{name} sets {variable}, which picket.config.from_env does not read"
    for line in (i for _, instructions in _stages() for i in instructions if i.upper().startswith("ENV ")):
        for variable in re.findall(r"\b(PICKET_[A-Z_]+)=", line):
            assert variable in READ, f"the Dockerfile sets {variable}, which picket.config.from_env does not read"


# --- the Dockerfile ---

def test_the_dockerfile_is_multi_stage_with_a_slim_final_stage_run_by_a_user_other_than_root() -> None:
    stages = _stages()
    assert len(stages) >= 2 and all(re.search(r"\bAS\s+\w+", line, re.IGNORECASE) for line, _ in stages)
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim\b", text)
    final_from, final = stages[-1]
    assert final_from.split()[1] in ("python:3.11-slim", "${PYTHON_IMAGE}")
    users = [i.split(None, 1)[1].strip() for i in final if i.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    final_text = "\n".join(final)
    assert not re.search(r"apt-get install[^\n]*(build-essential|gcc|g\+\+|clang)", final_text)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "EXPOSE 8000" in final
    assert 'ENTRYPOINT ["picket"]' in final
    [healthcheck] = [i for i in final if i.upper().startswith("HEALTHCHECK ")]
    assert '"python"' in healthcheck and "/_health/" in healthcheck
    build = "\n".join(stages[0][1])
    assert "requirements.lock" in build and "--no-deps" in build and "pip check" in build


def test_what_the_dockerfile_copies_is_let_through_by_dockerignore() -> None:
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"  # everything left out, but what is let back in
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [i.split()[1:-1] for _, instructions in _stages() for i in instructions
              if i.upper().startswith("COPY ") and "--from=" not in i]
    for sources in copies:
        for source in sources:
            assert any(source == a or source.startswith(a + "/") for a in allowed), \
                f"COPY {source}: left out by .dockerignore"
            assert (REPO / source).exists(), source


# --- the lock ---

def test_the_lock_pins_every_runtime_dependency_within_what_pyproject_asks() -> None:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line), line
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for dependency in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: make it again (see the Dockerfile)"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {dependency}"
    assert "pytest" not in pins and "picket" not in pins  # the runtime only, not the test extra or itself


# --- the image's health check ---

def _healthcheck():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("picket_healthcheck", REPO / "deploy" / "docker" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("argv", "args"), [
    (["/opt/venv/bin/python", "/opt/venv/bin/picket", "gateway", "--no-migrate"], ["gateway", "--no-migrate"]),
    (["/usr/bin/python3", "-m", "picket.cli", "worker"], ["worker"]),
    (["python", "/opt/picket/healthcheck.py", "/_health/"], None),  # the check itself
    (["/bin/sh"], None),
])
def test_the_health_check_finds_the_picket_command(argv: list[str], args: list[str] | None) -> None:
    assert _healthcheck().command_of(argv) == args


def test_the_health_check_follows_the_command() -> None:
    target = _healthcheck().target
    assert target(["gateway"], {"PICKET_PORT": "8000"}) == ("http://127.0.0.1:8000/_health/", {})
    assert target(["gateway", "--port", "9000"], {"PICKET_PORT": "8000"}, "/_health/ready") == (
        "http://127.0.0.1:9000/_health/ready", {})
    assert target(["run", "--port=8100"], {})[0] == "http://127.0.0.1:8100/_health/"
    assert target(["worker"], {"PICKET_METRICS_LISTEN": "0.0.0.0:9100"}) == ("http://127.0.0.1:9100/metrics", {})
    assert target(["worker"], {"PICKET_METRICS_LISTEN": "10.0.0.5:9100", "PICKET_METRICS_TOKEN": "t"}) == (
        "http://10.0.0.5:9100/metrics", {"Authorization": "Bearer t"})
    assert target(["worker"], {}) is None and target(["status"], {}) is None


def test_the_health_check_reads_the_containers_processes(tmp_path: Path) -> None:
    for pid, argv in ((1, b"/usr/bin/tini\0--\0"), (7, b"/opt/venv/bin/python\0/opt/venv/bin/picket\0worker\0"),
                      (30, b"python\0/opt/picket/healthcheck.py\0")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(argv)
    (tmp_path / "self").mkdir()
    assert _healthcheck().picket_command(tmp_path) == ["worker"]
