"""The project's one check of a YAML document against a JSON Schema of workflow/schemas/.

Draft 2020-12; of all violations the most relevant one (jsonschema's `best_match`), reported
in one line that the caller's `where` function begins with the place it names, e.g.

    config error at experiments.e5_unbiased_estimator.k: 0 is less than the minimum of 1

A schema may refer to another file of its folder by a relative `$ref`, e.g.
`$ref: "config.schema.yaml#/$defs/model"`, so that each rule is written once.  Two keywords
of this project's say what JSON Schema cannot (other validators, Snakemake's, ignore them):

    increasing: true           an array's items increase strictly, e.g. draw counts N
    exceeds: {offset: eps}     an object's field exceeds another of its fields, named by
                               dotted paths within the object, e.g. {cheating.offset: eps}

Used by holograd.distributed.config (the E8 run file) and by paper_checks for the pipeline
config (configuration) and the claim catalog (catalog).  It imports PyYAML and jsonschema
only (no torch): the workflow uses it at start-up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import jsonschema
import yaml
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "workflow" / "schemas"


def dotted(path: Sequence) -> str:
    """A place in a document as jsonschema gives it (keys and list indices), e.g. 'cheating.p.0'."""
    return ".".join(str(p) for p in path) or "(top level)"


@functools.cache
def _retrieve(uri: str) -> Resource:
    """The schema file a relative `$ref` names (resolved against the referring file's file:// URI)."""
    return Resource.from_contents(yaml.safe_load(Path(url2pathname(urlparse(uri).path)).read_text()))


def _increasing(validator, wanted: bool, instance, schema):
    if wanted and validator.is_type(instance, "array") and any(b <= a for a, b in pairwise(instance)):
        yield jsonschema.ValidationError(f"must increase, got {instance}")


def _field(instance: dict, dotted_path: str):
    for key in dotted_path.split("."):
        if not isinstance(instance, dict) or key not in instance:
            return None
        instance = instance[key]
    return instance


def _exceeds(validator, pairs: dict, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for larger, smaller in pairs.items():
        a, b = _field(instance, larger), _field(instance, smaller)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not a > b:
            message = f"must exceed {smaller} = {b}, got {a}"
            yield jsonschema.ValidationError(message, path=larger.split("."))


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"increasing": _increasing, "exceeds": _exceeds}
)
"""Draft 2020-12 with this project's two keywords."""


@functools.cache
def _validator(schema_file: Path) -> jsonschema.protocols.Validator:
    """A validator of the schema in `schema_file` (YAML), its relative `$ref`s resolved against
    the file's own location; the schema itself is checked first."""
    schema = {**yaml.safe_load(schema_file.read_text()), "$id": schema_file.as_uri()}
    Validator.check_schema(schema)
    return Validator(schema, registry=Registry(retrieve=_retrieve))


def best_error(document, schema_file: str | Path) -> jsonschema.ValidationError | None:
    """The most relevant way `document` violates the schema in `schema_file`, or None."""
    return jsonschema.exceptions.best_match(_validator(Path(schema_file).resolve()).iter_errors(document))


def validate(
    document, schema_file: str | Path, where: Callable[[tuple], str], error: type[Exception] = ValueError
) -> None:
    """Raise `error` with one line, '<where(path)>: <what is wrong>', if `document` violates the
    schema in `schema_file`; `where` names the place from jsonschema's path to it (keys and list
    indices: the file, the entry, the field)."""
    found = best_error(document, schema_file)
    if found is not None:
        raise error(f"{where(tuple(found.absolute_path))}: {found.message}".replace("\n", " "))


def _fill_defaults(validator, properties: dict, instance, schema):
    """The `properties` keyword that first sets each absent property with a `default` (the
    recipe of jsonschema's FAQ, as Snakemake's validate(..., set_default=True) does)."""
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if isinstance(subschema, dict) and "default" in subschema:
                instance.setdefault(name, subschema["default"])
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_Filling = jsonschema.validators.extend(Validator, {"properties": _fill_defaults})


def fill_defaults(document: dict, schema_file: str | Path) -> dict:
    """`document` with the schema's defaults filled in, in place and returned (what the pipeline
    gets from Snakemake's validate with set_default=True; for tools that run without Snakemake,
    e.g. benchmarks/estimate_suite.py on a GPU machine).  Validate it first: this reports nothing."""
    schema_file = Path(schema_file).resolve()
    schema = {**yaml.safe_load(schema_file.read_text()), "$id": schema_file.as_uri()}
    for _ in _Filling(schema, registry=Registry(retrieve=_retrieve)).iter_errors(document):
        pass
    return document
