"""The tree follows its style configuration (pyproject.toml): ruff lint and format for Python,
snakefmt for the workflow. Each check runs the tool itself and fails with its report."""

import shutil
import subprocess
import sys

import pytest

CHECKS = {
    "ruff lint": [sys.executable, "-m", "ruff", "check", "."],
    "ruff format": [sys.executable, "-m", "ruff", "format", "--check", "."],
    "snakefmt": ["snakefmt", "--check", "."],
}


@pytest.mark.parametrize("name", CHECKS)
def test_style(name, repo_root):
    cmd = CHECKS[name]
    if cmd[0] == "snakefmt" and shutil.which("snakefmt") is None:
        pytest.fail("snakefmt is not installed: pip install -e '.[test]'")
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
