"""Where a result came from: the source code it was computed by.

`source_hash` is what makes a change to the library rerun exactly the jobs it affects:
Snakemake does not track modules a script imports, so each rule carries in its params a
hash of the source of the modules it runs and of every project module they import,
followed transitively through `import` statements (not through package __init__ files, so
an experiment depends on what it imports by name and nothing else).
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("holograd", "paper_checks")


def _module_file(module: str, root: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Project modules imported by a file: `import a.b`, `from a.b import c` (c itself if a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def module_closure(modules: Iterable[str], root: Path = ROOT) -> dict[str, Path]:
    """The given modules and every project module they import, transitively: {name: file}."""
    todo, seen = list(modules), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(module, root)
        if path is None:
            if module in modules:
                raise ValueError(f"module {module!r} is not a file of this project")
            continue
        seen[module] = path
        todo.extend(_imports(path, module) - seen.keys())
    return dict(sorted(seen.items()))


def source_hash(*modules: str, root: Path = ROOT) -> str:
    """SHA-256 over the names and sources of the modules' import closure (see module docstring)."""
    h = hashlib.sha256()
    for name, path in module_closure(modules, root).items():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


GIT_COMMIT_VARIABLE = "HOLOGRAD_GIT_COMMIT"
"""The commit of the repository where Snakemake runs, set by the workflow and forwarded to
every job (`envvars:`): a job on a remote machine receives the tracked files, not .git."""


def git_commit(root: Path = ROOT) -> str:
    """$HOLOGRAD_GIT_COMMIT if set, else HEAD's commit with "+dirty" when tracked files differ
    from it; "unknown" outside git."""
    if os.environ.get(GIT_COMMIT_VARIABLE):
        return os.environ[GIT_COMMIT_VARIABLE]
    try:
        git = ["git", "-C", str(root)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")
