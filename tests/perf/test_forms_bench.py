"""Benchmark: validating a 100-field form with 10 conditionals and a repeatable group of 20 rows.

Target (issue 3, item 7): median ≤ 0.5 ms per validation through forms.validation.validate (the compiled
validator cached per key and version). For comparison it also times jsonschema 4.26's Draft202012Validator on
the same form's standard JSON Schema, which is why forms/compiler.py exists.
Run: .venv/bin/python -m pytest tests/perf/test_forms_bench.py -q -s
"""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from forms import formats, language, validation
from forms.compiler import Compiled
from forms.models import FormVersion
from tests.forms_fixtures import bench_form
from tests.perf.report import percentiles, timed, write_result


def test_validation_of_a_large_form_meets_half_a_millisecond():
    schema, data = bench_form(fields=100, conditionals=10)
    version = FormVersion(key="bench", version=1, title="bench", department="d", schema_json=json.dumps(schema),
                          json_schema_json="{}")
    form, problems = language.analyze(schema)
    assert problems == []
    out = validation.validate(version, data)
    assert len(out) == 100 and len(out["members"]) == 20
    hidden = dict(data, has_extra=False)
    assert len(validation.validate(version, hidden)) == 90           # the 10 conditionals drop out

    # once per (key, version): the meta-schema check, the language's rules, building the closures
    compile_ms = timed(lambda: Compiled(language.analyze(schema)[0]), repeat=20, warmup=2)
    ours = percentiles(timed(lambda: validation.validate(version, data), repeat=3000, warmup=200))
    invalid = dict(data, f004="12.345", f001="110105194912310021")
    ours_invalid = percentiles(timed(lambda: _refused(version, invalid), repeat=1000, warmup=50))
    reference = Draft202012Validator(form.json_schema, format_checker=formats.format_checker())
    plain = validation.as_json(out)
    assert reference.is_valid(plain)
    theirs = percentiles(timed(lambda: reference.is_valid(plain), repeat=300, warmup=20))

    write_result("forms_validation", {
        "form": {"fields": 100, "conditionals": 10, "repeat_rows": 20, "row_fields": 5},
        "target_p50_ms": 0.5,
        "validate": ours,
        "validate_invalid_data": ours_invalid,
        "compile_once_per_version": percentiles(compile_ms),
        "jsonschema_draft2020_is_valid": theirs,
    })
    assert ours["p50_ms"] <= 0.5, ours


def _refused(version, data):
    try:
        validation.validate(version, data)
    except validation.Invalid:
        return
    raise AssertionError("expected errors")
