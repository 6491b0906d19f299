"""The real `sentry-cli` (from PyPI) lists organizations and projects from a running Picket."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.picket import PicketProcess


def _sentry_cli() -> str:
    found = Path(sys.executable).with_name("sentry-cli")
    path = str(found) if found.exists() else shutil.which("sentry-cli")
    assert path, "sentry-cli is a test dependency and must be installed"
    return path


def _run(picket: PicketProcess, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(picket.data_dir),
        "SENTRY_URL": picket.url,
        "SENTRY_AUTH_TOKEN": picket.token,
        "SENTRY_LOG_LEVEL": "warn",
        "SENTRY_DISABLE_UPDATE_CHECK": "1",
    }
    out = subprocess.run([_sentry_cli(), *args], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"sentry-cli {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_sentry_cli_lists_organizations(picket: PicketProcess) -> None:
    assert picket.org in _run(picket, "organizations", "list")


def test_sentry_cli_lists_projects(picket: PicketProcess) -> None:
    listing = _run(picket, "projects", "list", "--org", picket.org)
    assert "default" in listing
