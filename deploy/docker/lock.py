"""Print `requirements.lock`: every distribution `pip install .` pulls in, pinned at the version
installed in this environment (the project's own venv, where the tests pass).

    .venv/bin/python deploy/docker/lock.py > requirements.lock

It walks the runtime dependencies of `pyproject.toml` (not the `test` extra) through the
installed distributions' metadata, extras and environment markers included, as evaluated here:
run it with the Python the image uses (CPython 3.11 on Linux). Fails if a dependency is not
installed or its installed version is outside what is asked for.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def closure(roots: list[str]) -> dict[str, str]:
    """Installed version of every distribution `roots` need, by canonical name."""
    extras_of: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{requirement} is not installed: install the project (`pip install .`) first")
        if not requirement.specifier.contains(version, prereleases=True):
            sys.exit(f"{name} {version} is installed, but {requirement} is required")
        known = extras_of.get(name)
        if known is not None and set(requirement.extras) <= known:
            continue
        extras_of[name] = (known or set()) | set(requirement.extras)
        for line in metadata.requires(name) or []:
            sub = Requirement(line)
            if wanted(sub, extras_of[name]):
                todo.append(sub)
    return {name: metadata.version(name) for name in extras_of}


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = closure([r for r in project["dependencies"]])
    print("# The runtime dependencies of `pip install .`, pinned as installed where the tests pass.")
    print("# Made by: .venv/bin/python deploy/docker/lock.py > requirements.lock")
    print(f"# (CPython {sys.version_info.major}.{sys.version_info.minor} on {sys.platform}; "
          "the Dockerfile installs it with --no-deps)")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")


if __name__ == "__main__":
    main()
