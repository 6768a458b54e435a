"""The configuration's fast check agrees with jsonschema.

``somaxlint.config._conforms`` spares a run jsonschema's import (a tenth
of a hook's run) when a configuration is valid; whenever it says "valid",
jsonschema must say so too, and on anything else jsonschema decides.
"""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
from hypothesis import given, settings, strategies as st

from somaxlint.config import INIT_TEMPLATE, _conforms

SCHEMA = json.loads(resources.files("somaxlint").joinpath("schemas/config.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**31), st.floats(allow_nan=False, width=32), st.text(max_size=12),
                    st.sampled_from(["5.15", "v1.29", "off", "info", "error", "x*", "net.core.somaxconn", "4.19.0-21-amd64"]))
keys = st.sampled_from(list(SCHEMA["properties"]) + ["kernal", "charts", "values", "release", "path", "workload", "default",
                                                      "SMX001", "enabled", "severity", "max_file_size", "sysctls", "version"])
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_what_the_fast_check_accepts_jsonschema_accepts(config):
    if _conforms(config, SCHEMA) is True:
        assert VALIDATOR.is_valid(config), config


def test_the_fast_check_accepts_the_documented_configuration():
    import re

    # as tests/test_cli_options.py uncomments it: `#key:` and `#  nested:` lines
    uncommented = "\n".join(line[1:] for line in INIT_TEMPLATE.splitlines() if re.match(r"#(?=\S|  )", line))
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(uncommented)
    assert VALIDATOR.is_valid(data)
    assert _conforms(data, SCHEMA) is True  # the usual case: no jsonschema import
    assert _conforms({"kernel": 5.1}, SCHEMA) is False
    assert _conforms({"limits": {"max_include_depth": 129}}, SCHEMA) is False
