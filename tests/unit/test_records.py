"""pybridge's records are msgspec Structs: created in C when a module loads, where a dataclass compiles its
methods from source in every process (issue 16, docs/performance.md). What dataclasses gave for free and
two records need by hand: fields left out of equality."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from msgspec.structs import replace

import pybridge
from pybridge.core.rules.model import AttributeFlow
from pybridge.secret import Secret


def test_no_module_of_pybridge_defines_a_dataclass():
    found = []
    for info in pkgutil.walk_packages(pybridge.__path__, "pybridge."):
        if info.name.endswith(".__main__"):  # runs the CLI
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and dataclasses.is_dataclass(obj):
                found.append(f"{module.__name__}.{name}")
    assert found == []


def test_an_attribute_flow_is_what_it_maps_not_the_code_compiled_from_it():
    flow = AttributeFlow(target="displayName", mapping_type="Direct", source="displayName")
    compiled = replace(flow, compiled=lambda attributes: attributes)
    assert compiled == flow and hash(compiled) == hash(flow)
    assert "compiled" not in repr(compiled) and "source='displayName'" in repr(compiled)
    assert replace(flow, source="cn") != flow
    assert flow != ("displayName", "Direct")  # another type is never equal


def test_a_secret_is_where_it_comes_from_not_its_label():
    a = Secret(env="PB_SECRET", label="client secret")
    assert a == Secret(env="PB_SECRET") and hash(a) == hash(Secret(env="PB_SECRET", label="other"))
    assert a != Secret(file=Path("/run/secret")) and a != Secret(env="OTHER")
    with pytest.raises(ValueError, match="exactly one of env and file"):
        Secret()
    with pytest.raises(ValueError, match="exactly one of env and file"):
        Secret(env="X", file=Path("/x"))
