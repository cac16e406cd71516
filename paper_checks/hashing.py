"""Every hash the pipeline's provenance rests on, in one place.

- `config_hash`     SHA-256 of a configuration's canonical JSON (sorted keys): what a job,
                    a data file or a verdict was made from;
- `content_sha256`  SHA-256 of a JSON results file without its `timing` field: equal for two
                    runs of the same job, so files that cite it do not differ either;
- `source_hash`     SHA-256 of the source of some modules and of every project module they
                    import: what makes a change to the library rerun exactly the jobs it
                    affects (Snakemake does not track modules a script imports, so each rule
                    carries this hash in its params).  Imports are followed transitively
                    through `import` statements, not through package __init__ files, so an
                    experiment depends on what it imports by name and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from holograd.files import read_json

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("holograd", "paper_checks")
TIMING = "timing"
"""The field of a results file that holds its wall times and timestamps, and nothing else."""


class ProvenanceError(ValueError):
    """A file was made from another configuration, corpus or code than the stage expects."""


def config_hash(obj) -> str:
    """SHA-256 of the canonical JSON of a configuration (sorted keys): its provenance mark."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def content_sha256(path: str | Path) -> str:
    """SHA-256 of a JSON results file without its `timing` field: equal for two runs of a job."""
    content = {k: v for k, v in read_json(path).items() if k != TIMING}
    return config_hash(content)


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


def source_hash(*modules: str, files: Iterable[str | Path] = (), root: Path = ROOT) -> str:
    """SHA-256 over the names and sources of the modules' import closure, and over `files`
    (paths relative to the repository: templates and other sources a stage reads)."""
    h = hashlib.sha256()
    for name, path in module_closure(modules, root).items():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in files:
        h.update(str(name).encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return h.hexdigest()
