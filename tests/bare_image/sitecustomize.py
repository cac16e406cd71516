"""A stand-in for a bare GPU image in a process of this machine: with this folder on PYTHONPATH,
the packages such an image lacks cannot be imported (ModuleNotFoundError), whatever is installed.

    HOLOGRAD_BARE_IMAGE_LACKS="jsonschema referencing docutils snakemake datasets"   (the default)

tests/test_gpu_check.py runs benchmarks/gpu_check.sh and the GPU tests' collection this way."""

import importlib.abc
import os
import sys

LACKS = set(os.environ.get("HOLOGRAD_BARE_IMAGE_LACKS", "jsonschema referencing docutils snakemake datasets").split())


class _Lacking(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in LACKS:
            raise ModuleNotFoundError(f"No module named {name!r} (not on the bare GPU image)", name=name)
        return None


sys.meta_path.insert(0, _Lacking())
