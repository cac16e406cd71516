"""Load and validate paper_checks/claims.yaml, experiments.yaml and published.yaml.

Each file is checked against its schema (workflow/schemas/<name>.schema.yaml, through
holograd.validation), then by the few rules a schema cannot say: claim ids, experiment ids
and figures unique, a claim's experiment a key of experiments.yaml, its acceptance an
interval that is not empty; a claim's reading ids unique and each reading's effective
acceptance not empty; a one-sided region (an end at infinity) only with its `minimum_effect`,
the sentence that says where its finite end comes from; a published number's claim and
readings those of claims.yaml.  Every
problem is one line that names the file, the entry and the field, e.g.

    paper_checks/claims.yaml: claim C3: expected: '180' is not of type 'number'
    paper_checks/claims.yaml: claim C3 reading oracle: acceptance: acceptance region '[4, 2]' is empty

A claim is judged under each of its `readings` (readings_of: the one definition of a
reading's effective claim that evaluation, summary and figures share); a claim without
readings has one, as-stated.

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
PUBLISHED_FILE = HERE / "published.yaml"
CLAIMS_SCHEMA = SCHEMA_DIR / "claims.schema.yaml"
EXPERIMENTS_SCHEMA = SCHEMA_DIR / "experiments.schema.yaml"
PUBLISHED_SCHEMA = SCHEMA_DIR / "published.schema.yaml"

AS_STATED = {"id": "as-stated", "reading": "the claim as claims.yaml states it", "verifiable": "n/a", "select": {}}
"""The one reading of a claim that names none."""

OVERRIDES = ("statistic", "expected", "acceptance", "minimum_effect", "structural")
"""What a reading may override of its claim's first part."""


class CatalogError(ValueError):
    """claims.yaml, experiments.yaml or published.yaml is malformed."""


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


def _reading_label(doc, i: int, j: int) -> str:
    """'claim C3 reading oracle' for the claim's readings #j (by number where its id is missing)."""
    reading = doc["claims"][i]["readings"][j]
    name = reading.get("id") if isinstance(reading, dict) else None
    return (
        f"{_claim_label(doc, i)} reading {name}"
        if isinstance(name, str)
        else f"{_claim_label(doc, i)} reading #{j + 1}"
    )


def _claim_where(file: str, doc, path: tuple) -> str:
    """claims.yaml's place at `path`: 'FILE: claim ID[ part P| reading R]: FIELD'."""
    if len(path) < 2 or path[0] != "claims":
        return f"{file}{_field(path)}"
    i, rest = path[1], path[2:]
    if len(rest) >= 2 and rest[0] == "also_requires":
        return f"{file}: {_claim_label(doc, i, rest[1])}{_field(rest[2:])}"
    if len(rest) >= 2 and rest[0] == "readings":
        return f"{file}: {_reading_label(doc, i, rest[1])}{_field(rest[2:])}"
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
        regions = [_region(f"{file}: {label}", part) for label, part in parts]
        readings = claim.get("readings", [])
        labels = [(_reading_label(doc, i, j), r["id"]) for j, r in enumerate(readings)]
        _unique(file, labels, "id", "reading id")
        for (label, _), reading in zip(labels, readings):
            if "acceptance" in reading or "minimum_effect" in reading:
                _region(f"{file}: {label}: acceptance", {**claim, **{k: reading[k] for k in OVERRIDES if k in reading}})
        claims.append({**claim, "region": regions[0]})
    return claims


def _region(where: str, part: dict) -> Region:
    """A part's acceptance region, parsed; CatalogError naming `where` if it is malformed or
    empty, or one-sided without the `minimum_effect` that justifies its finite end."""
    try:
        region = Region.parse(part["acceptance"])
    except ValueError as exc:  # names the field: "acceptance region '[0.10, 0.04]' is empty"
        raise CatalogError(f"{where}: {exc}") from None
    if region.one_sided and not part.get("minimum_effect"):
        raise CatalogError(
            f"{where}: the one-sided acceptance region {part['acceptance']!r} needs a minimum_effect, the "
            "sentence that says where its finite end comes from (without one, a flat quantity could never FAIL)"
        )
    return region


def family_size(claims: list[dict]) -> int:
    """The number of decisions in the confirmatory family: the parts of every claim's primary
    reading (a reading overrides its claim's first part, never adds one).  Their verdicts use
    alpha / family_size (paper_checks.verdict)."""
    return sum(1 + len(claim.get("also_requires", [])) for claim in claims)


def _merged_select(base: dict, extra: dict) -> dict:
    """A reading's select over its claim's: key by key, the `where` dicts merged too."""
    merged = {**base, **extra}
    if isinstance(base.get("where"), dict) and isinstance(extra.get("where"), dict):
        merged["where"] = {**base["where"], **extra["where"]}
    return merged


def readings_of(claim: dict) -> list[dict]:
    """The claim's readings, the primary one first: each {id, reading, verifiable, select,
    claim}, where `claim` is the claim as that reading judges it (its select merged over the
    claim's, its overrides replacing its first part's, `region` reparsed if the claim has one)
    and `select` is that merged select.  A claim without `readings` has one, as-stated."""
    base = {k: v for k, v in claim.items() if k != "readings"}
    readings = []
    for reading in claim.get("readings") or [AS_STATED]:
        effective = {**base, **{k: reading[k] for k in OVERRIDES if k in reading}}
        effective["select"] = _merged_select(claim.get("select", {}), reading.get("select", {}))
        if "region" in claim:
            effective["region"] = Region.parse(effective["acceptance"])
        readings.append(
            {
                "id": reading["id"],
                "reading": reading["reading"],
                "verifiable": reading["verifiable"],
                "select": effective["select"],
                "claim": effective,
            }
        )
    return readings


def reading_ids(claim: dict) -> list[str]:
    """The ids of the claim's readings (["as-stated"] for a claim without readings)."""
    return [r["id"] for r in claim.get("readings") or [AS_STATED]]


def _published_where(file: str, doc, path: tuple) -> str:
    """published.yaml's place at `path`: 'FILE: entry ID: FIELD'."""
    if len(path) < 2 or path[0] != "published":
        return f"{file}{_field(path)}"
    entry = doc["published"][path[1]]
    name = entry.get("id") if isinstance(entry, dict) else None
    label = f"entry {name}" if isinstance(name, str) else f"entry #{path[1] + 1}"
    return f"{file}: {label}{_field(path[2:])}"


def load_published(path: str | Path = PUBLISHED_FILE, claims: list[dict] | None = None) -> list[dict]:
    """The authors' published numbers in file order, validated against the schema and the
    claims (each `claim` one of claims.yaml, each `reading` one of that claim's readings)."""
    claims = load_claims() if claims is None else claims
    file, doc = _shown(path), _read(path)
    validate(doc, PUBLISHED_SCHEMA, lambda where: _published_where(file, doc, where), CatalogError)
    entries = doc["published"]
    _unique(file, [(f"entry #{i + 1}", e["id"]) for i, e in enumerate(entries)], "id", "entry id")
    known = {c["id"]: reading_ids(c) for c in claims}
    for entry in entries:
        where = f"{file}: entry {entry['id']}"
        pointers = [("", entry), ("ours.", entry["ours"])]
        pointers += [("reproduced_by.", entry["reproduced_by"])] if "reproduced_by" in entry else []
        for prefix, pointer in pointers:
            if pointer["claim"] not in known:
                raise CatalogError(f"{where}: {prefix}claim: unknown claim {pointer['claim']!r}; known: {list(known)}")
            if prefix and pointer["reading"] not in known[pointer["claim"]]:
                raise CatalogError(
                    f"{where}: {prefix}reading: {pointer['reading']!r} is not a reading of claim {pointer['claim']}; "
                    f"its readings: {known[pointer['claim']]}"
                )
    return entries
