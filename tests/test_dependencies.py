"""The dependency policy: what the product imports is declared, with floors; the lock agrees with pyproject."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "providers", "storage", "playground")
LOCAL = set(PRODUCT) | {"tests", "benchmarks"}


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def imported_top_level() -> set[str]:
    found: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - LOCAL - set(sys.stdlib_module_names)


def test_every_declared_dependency_is_locked_at_a_version_it_allows():
    pins = locked()
    for name, requirement in declared().items():
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"


def test_every_package_the_product_imports_is_declared_directly():
    distributions = packages_distributions()
    names = declared()
    for module in sorted(imported_top_level()):
        owners = {canonicalize_name(d) for d in distributions.get(module, [module])}
        assert owners & set(names), f"the product imports {module!r} ({owners}) but pyproject.toml does not declare it"


def test_every_declared_dependency_has_a_floor():
    for name, requirement in declared().items():
        assert any(spec.operator in (">=", "==", "~=") for spec in requirement.specifier), f"{name} has no floor"


def test_the_image_installs_from_the_lock_with_hashes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements.lock" in dockerfile
    lock = (ROOT / "requirements.lock").read_text()
    entries = re.findall(r"^[A-Za-z0-9_.-]+==", lock, re.M)
    assert entries and lock.count("--hash=sha256:") >= len(entries)


def test_the_image_ships_every_product_package_and_checks_its_health():
    """No Docker engine runs here (CI neither): what can be checked without one is checked."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("bot", "handlers", "providers", "storage", "playground"):
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert 'HEALTHCHECK' in dockerfile and '"bot.healthcheck"' in dockerfile
    assert "HTTP_PORT=8080" in dockerfile and 'ENTRYPOINT ["python", "-m"]' in dockerfile


def test_compose_runs_the_image_with_a_restart_policy_one_volume_and_time_to_drain():
    from bot.settings import Settings

    compose = (ROOT / "compose.yaml").read_text()
    assert re.search(r"^\s+restart: unless-stopped$", compose, re.M)
    [volume] = re.findall(r"^\s+- (\S+):/app/data$", compose, re.M)
    assert re.search(rf"^volumes:\n  {volume}:$", compose, re.M)
    grace = int(re.search(r"stop_grace_period: (\d+)s", compose).group(1))
    assert grace >= Settings.model_fields["shutdown_timeout"].default + 5
