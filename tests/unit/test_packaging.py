"""Picket installs as one import package, `picket`: nothing named `services` or `schemas` can clash
with another distribution in a user's environment, and no folder of the code is left out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {"picket": REPO / "services", "picket.schemas": REPO / "schemas"}


def _config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_dirs() -> set[str]:
    """Every folder of the code, as the dotted name it is installed under."""
    names = set()
    for package, root in ROOTS.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            if package == "picket" and relative[:1] == ():
                names.add("picket")
            names.add(".".join((package, *relative)))
    data = {f"picket.schemas.{d.name}" for d in (REPO / "schemas").iterdir() if d.is_dir() and d.name != "__pycache__"}
    return names | data


def test_every_folder_of_the_code_is_a_listed_package_and_nothing_else_is() -> None:
    config = _config()
    assert config["package-dir"] == {"picket": "services", "picket.schemas": "schemas"}
    assert set(config["packages"]) == _package_dirs()


def test_the_wheel_holds_the_picket_package_alone(tmp_path: Path) -> None:
    """What `pip install .` installs. Built from a copy of the sources: a build in the checkout
    would leave its `build/` folder there."""
    source = tmp_path / "source"
    for name in ("services", "schemas"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("picket-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"picket"}
    assert "picket/schemas/topics.py" in names and "picket/store/migrations/0001_entities.sql" in names
    assert "picket/schemas/reference/sentry-openapi-subset.json" in names
