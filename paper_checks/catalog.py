"""Load and validate paper_checks/claims.yaml and experiments.yaml.

Read by the workflow when it starts, so it imports nothing heavier than PyYAML; every
problem is one line that names the file, the entry and the field.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from paper_checks.regions import Region

HERE = Path(__file__).resolve().parent
CLAIMS_FILE = HERE / "claims.yaml"
EXPERIMENTS_FILE = HERE / "experiments.yaml"

_CLAIM_FIELDS = {"id", "statement", "section", "experiment", "statistic", "expected", "acceptance", "select"}
_OPTIONAL_CLAIM_FIELDS = {"part", "strict", "also_requires"}
_PART_FIELDS = {"part", "statistic", "expected", "acceptance"}
_OPTIONAL_PART_FIELDS = frozenset({"strict"})  # strict: PASS needs the whole 95 % CI inside the region
_EXPERIMENT_FIELDS = {"id", "title", "module", "figure", "paper"}
_OPTIONAL_EXPERIMENT_FIELDS = frozenset({"tuned"})  # tuned: true = a tuning job chooses its learning rates


class CatalogError(ValueError):
    """claims.yaml or experiments.yaml is malformed."""


def _read(path: Path):
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot be read as YAML ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc


def _check_fields(where: str, entry, fields: set[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where} must be a mapping, got {type(entry).__name__}")
    missing, unknown = fields - entry.keys(), entry.keys() - fields - optional
    if missing:
        raise CatalogError(f"{where} lacks field(s) {sorted(missing)}")
    if unknown:
        raise CatalogError(f"{where} has unknown field(s) {sorted(unknown)}; allowed: {sorted(fields | optional)}")


def load_experiments(path: str | Path = EXPERIMENTS_FILE) -> dict[str, dict]:
    """{experiment key: entry}, each entry with all of id, title, module, figure, paper."""
    entries = _read(path)
    if not isinstance(entries, dict) or not entries:
        raise CatalogError(f"{path}: expected a mapping of experiment keys to entries")
    for key, entry in entries.items():
        _check_fields(f"{path}: experiment {key!r}", entry, _EXPERIMENT_FIELDS, _OPTIONAL_EXPERIMENT_FIELDS)
        if not str(entry["module"]).startswith("holograd.experiments."):
            raise CatalogError(f"{path}: experiment {key!r}: module must lie in holograd.experiments, got {entry['module']!r}")
    return entries


def load_claims(path: str | Path = CLAIMS_FILE, experiments: dict[str, dict] | None = None) -> list[dict]:
    """The claims in file order, validated; each gains `region`, its parsed acceptance Region."""
    experiments = load_experiments() if experiments is None else experiments
    doc = _read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list) or not doc["claims"]:
        raise CatalogError(f"{path}: expected a top-level 'claims:' list")
    claims, seen = [], set()
    for i, entry in enumerate(doc["claims"]):
        where = f"{path}: claim {entry.get('id', f'#{i + 1}') if isinstance(entry, dict) else f'#{i + 1}'}"
        _check_fields(where, entry, _CLAIM_FIELDS, frozenset(_OPTIONAL_CLAIM_FIELDS))
        if entry["id"] in seen:
            raise CatalogError(f"{where}: duplicate claim id")
        seen.add(entry["id"])
        if entry["experiment"] not in experiments:
            raise CatalogError(f"{where}: unknown experiment {entry['experiment']!r}; known: {sorted(experiments)}")
        if not isinstance(entry["select"], dict):
            raise CatalogError(f"{where}: select must be a mapping (use {{}} for none)")
        extra = entry.get("also_requires", [])
        if not isinstance(extra, list):
            raise CatalogError(f"{where}: also_requires must be a list of parts")
        for j, part in enumerate(extra):
            _check_fields(f"{where}: also_requires #{j + 1}", part, _PART_FIELDS, _OPTIONAL_PART_FIELDS)
        region = None
        for part in [entry, *extra]:
            label = f"{where}" + (f" part {part['part']}" if part.get("part") else "")
            if not isinstance(part["expected"], (int, float)) or isinstance(part["expected"], bool):
                raise CatalogError(f"{label}: expected must be a number, got {part['expected']!r}")
            try:
                parsed = Region.parse(part["acceptance"])
            except ValueError as exc:
                raise CatalogError(f"{label}: {exc}") from None
            part["acceptance"] = str(part["acceptance"])
            region = region or parsed
        claims.append({**entry, "region": region})
    return claims
