"""Load and validate paper_checks/claims.yaml and experiments.yaml.

Each file is checked against its schema (workflow/schemas/claims.schema.yaml and
experiments.schema.yaml, through holograd.validation), then by the few rules a schema
cannot say: claim ids, experiment ids and figures unique, a claim's experiment a key of
experiments.yaml, its acceptance an interval that is not empty.  Every problem is one line
that names the file, the entry and the field, e.g.

    paper_checks/claims.yaml: claim C3: expected: '180' is not of type 'number'

Read by the workflow when it starts, so it imports nothing heavier than PyYAML and jsonschema.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from holograd.validation import SCHEMA_DIR, dotted, validate
from paper_checks.regions import Region

HERE = Path(__file__).resolve().parent
CLAIMS_FILE = HERE / "claims.yaml"
EXPERIMENTS_FILE = HERE / "experiments.yaml"
CLAIMS_SCHEMA = SCHEMA_DIR / "claims.schema.yaml"
EXPERIMENTS_SCHEMA = SCHEMA_DIR / "experiments.schema.yaml"


class CatalogError(ValueError):
    """claims.yaml or experiments.yaml is malformed."""


def _shown(path: str | Path) -> str:
    """The file as errors name it: relative to the repository when it lies inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def _read(path: str | Path):
    """The parsed content of a YAML file; CatalogError if it cannot be read or parsed."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(
            f"{_shown(path)}: cannot be read as YAML ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc


def _field(rest: tuple) -> str:
    """': FIELD' for the rest of a path inside an entry (dotted), '' for the entry itself."""
    return f": {dotted(rest)}" if rest else ""


def _experiment_where(file: str, path: tuple) -> str:
    """experiments.yaml's place at `path`: 'FILE: experiment KEY: FIELD'."""
    if not path:
        return file
    return f"{file}: experiment {path[0]}{_field(path[1:])}"


def _claim_label(doc, i: int, j: int | None = None) -> str:
    """'claim C1', or 'claim C1 part b' for its also_requires #j (by number where a name is missing)."""
    claim = doc["claims"][i]
    label = (
        f"claim {claim['id']}" if isinstance(claim, dict) and isinstance(claim.get("id"), str) else f"claim #{i + 1}"
    )
    if j is None:
        return label
    part = claim["also_requires"][j]
    return (
        f"{label} part {part['part']}"
        if isinstance(part, dict) and isinstance(part.get("part"), str)
        else f"{label} also_requires #{j + 1}"
    )


def _claim_where(file: str, doc, path: tuple) -> str:
    """claims.yaml's place at `path`: 'FILE: claim ID[ part P]: FIELD'."""
    if len(path) < 2 or path[0] != "claims":
        return f"{file}{_field(path)}"
    i, rest = path[1], path[2:]
    if len(rest) >= 2 and rest[0] == "also_requires":
        return f"{file}: {_claim_label(doc, i, rest[1])}{_field(rest[2:])}"
    return f"{file}: {_claim_label(doc, i)}{_field(rest)}"


def _unique(file: str, entries: list[tuple[str, object]], field: str, noun: str) -> None:
    """Raise CatalogError if two entries, (label, value) pairs, have the same value of `field`."""
    first = {}
    for label, value in entries:
        if value in first:
            raise CatalogError(f"{file}: {label}: {field}: duplicate {noun} {value!r} (also {first[value]})")
        first[value] = label


def load_experiments(path: str | Path = EXPERIMENTS_FILE) -> dict[str, dict]:
    """{experiment key: entry}, each entry with all of id, title, module, analysis, figure, paper."""
    file, entries = _shown(path), _read(path)
    validate(entries, EXPERIMENTS_SCHEMA, lambda where: _experiment_where(file, where), CatalogError)
    for name, noun in (("id", "experiment id"), ("figure", "figure")):
        _unique(file, [(f"experiment {key}", entry[name]) for key, entry in entries.items()], name, noun)
    return entries


def load_claims(path: str | Path = CLAIMS_FILE, experiments: dict[str, dict] | None = None) -> list[dict]:
    """The claims in file order, validated; each gains `region`, its parsed acceptance Region
    (that of its first part)."""
    experiments = load_experiments() if experiments is None else experiments
    file, doc = _shown(path), _read(path)
    validate(doc, CLAIMS_SCHEMA, lambda where: _claim_where(file, doc, where), CatalogError)
    entries = doc["claims"]
    _unique(file, [(f"claim #{i + 1}", claim["id"]) for i, claim in enumerate(entries)], "id", "claim id")
    claims = []
    for i, claim in enumerate(entries):
        if claim["experiment"] not in experiments:
            where, name = f"{file}: {_claim_label(doc, i)}: experiment", claim["experiment"]
            known = sorted(experiments)
            raise CatalogError(f"{where}: unknown experiment {name!r}, not a key of experiments.yaml; known: {known}")
        parts = [(_claim_label(doc, i) + (f" part {claim['part']}" if "part" in claim else ""), claim)]
        parts += [(_claim_label(doc, i, j), part) for j, part in enumerate(claim.get("also_requires", []))]
        regions = []
        for label, part in parts:
            try:
                regions.append(Region.parse(part["acceptance"]))
            except ValueError as exc:  # names the field: "acceptance region '[0.10, 0.04]' is empty"
                raise CatalogError(f"{file}: {label}: {exc}") from None
        claims.append({**claim, "region": regions[0]})
    return claims
