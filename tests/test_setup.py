"""Installing the project keeps the torch a user has: `make setup` against a stand-in .venv whose
python records what it is asked to do, and the dependency ranges in pyproject.toml against the
torch releases the README promises (2.3 and later) and the Triton each of them pins."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for .venv/bin/python: appends its arguments (one per line, then a blank line) to
# calls.log; `-c 'import torch'` succeeds only where has_torch exists.
STAND_IN = """#!/usr/bin/env bash
here=$(dirname "$0")
printf '%s\\n' "$@" >> "$here/../calls.log"
echo >> "$here/../calls.log"
if [[ $1 == -c && $2 == "import torch" ]]; then test -e "$here/../has_torch"; exit $?; fi
exit 0
"""

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _setup(tmp_path: Path, has_torch: bool, *make_args: str, env: dict | None = None) -> list[list[str]]:
    """Run `make setup` with VENV pointing at a stand-in; the python calls it made."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(STAND_IN)
    python.chmod(0o755)
    if has_torch:
        (venv / "has_torch").touch()
    environment = {k: v for k, v in os.environ.items() if k not in ("TORCH", "MAKEFLAGS")}
    subprocess.run(
        ["make", "-s", "setup", f"VENV={venv}", *make_args],
        cwd=ROOT,
        env={**environment, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    calls = (venv / "calls.log").read_text().split("\n\n")
    return [c.split("\n") for c in calls if c]


def _torch_installs(calls: list[list[str]]) -> list[list[str]]:
    return [c[c.index("install") + 1 :] for c in calls if c[:3] == ["-m", "pip", "install"] and "-e" not in c]


def test_setup_keeps_a_torch_already_in_the_venv(tmp_path):
    """At d39e71f `make setup` reinstalled torch 2.13.0 over the CUDA build a user had put in .venv."""
    calls = _setup(tmp_path, has_torch=True)
    assert _torch_installs(calls) == []
    assert ["-m", "pip", "install", "--quiet", "-e", ".[test]"] in calls


def test_setup_installs_the_pinned_torch_into_a_venv_without_one(tmp_path):
    assert _torch_installs(_setup(tmp_path, has_torch=False)) == [["--quiet", "torch==2.13.0"]]


@pytest.mark.parametrize("where", ["command line", "environment"])
def test_a_given_torch_reaches_pip_word_for_word_with_its_index(tmp_path, where):
    """At d39e71f the Makefile quoted $(TORCH), so pip read one requirement named
    'torch==2.5.1 --index-url ...' and no index could be passed."""
    torch = "torch==2.5.1 --index-url https://download.pytorch.org/whl/cu121"
    if where == "command line":
        calls = _setup(tmp_path, True, f"TORCH={torch}")
    else:
        calls = _setup(tmp_path, True, env={"TORCH": torch})
    assert _torch_installs(calls) == [
        ["--quiet", "torch==2.5.1", "--index-url", "https://download.pytorch.org/whl/cu121"]
    ]


# The Triton release each torch's Linux x86_64 CUDA wheel pins (its wheel's METADATA on PyPI,
# read 2026-12-07).
TRITON_PINNED_BY_TORCH = {
    "2.3.1": "2.3.1",
    "2.4.1": "3.0.0",
    "2.5.1": "3.1.0",
    "2.6.0": "3.2.0",
    "2.7.1": "3.3.1",
    "2.8.0": "3.4.0",
    "2.9.1": "3.5.1",
    "2.10.0": "3.6.0",
    "2.11.0": "3.6.0",
    "2.13.0": "3.7.1",
}


def _requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


def test_the_test_extra_accepts_the_triton_every_supported_torch_pins():
    """`pip install -e ".[test]"` beside a CUDA torch 2.3 ... 2.11 must accept the Triton that
    torch pins (at d39e71f `triton>=3.2` ruled out torch <= 2.5); where the kernels need a newer
    Triton, holograd.generator_triton says so at import, in one line."""
    triton = [r for r in _requirements()["test"] if r.name == "triton"]
    assert len(triton) == 1
    torch_floor = next(r for r in _requirements()[""] if r.name == "torch")
    for torch_version, pinned in TRITON_PINNED_BY_TORCH.items():
        assert torch_floor.specifier.contains(torch_version), torch_version
        assert triton[0].specifier.contains(pinned), (torch_version, pinned)
    assert Version("2.13.0") in torch_floor.specifier  # the CPU build this project is tested with
