"""Sync rules under attack: the evaluation budget (pybridge.core.rules.budget) and linear date parsing.

A rule that would build hundreds of megabytes (PadLeft to 400,000,000 characters, 36 nested With
doublings, Replace amplification, one megabyte per value of a multi-valued attribute) ends as a rule
error that names the rule, the flow, the function and its position, without building the value.
IsDate/CDate read text of any length in linear time. No test measures time: the ones that would run
for minutes on an unprotected pybridge run in a child process with a generous timeout and an
address-space limit.
"""
from __future__ import annotations

import re
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybridge.core.rules import RuleEvaluationError, RuleSet, compile_expression
from pybridge.core.rules.functions import FUNCTIONS, f_is_date

ROOT = Path(__file__).resolve().parents[2]


def doublings(n: int) -> str:
    e = "[sn]"
    for i in range(n):
        e = f"With($v{i}, {e}, $v{i} & $v{i})"
    return e


def squarings(n: int) -> str:
    e = "CNum([employeeNumber])"
    for i in range(n):
        e = f"With($n{i}, {e}, $n{i} * $n{i})"
    return e


def replaces(n: int) -> str:
    e = "[sn]"
    for _ in range(n):
        e = f'Replace({e}, "S", "SSSSSSSSSSSSSSSSSSSS")'
    return e


ATTACKS = {
    "padleft": ('PadLeft([sn], 400000000, "x")', "PadLeft (position 1)"),
    "padright": ('PadRight([sn], 400000000, "x")', "PadRight (position 1)"),
    "with-doublings": (doublings(36), "& (position"),
    "replace": (replaces(12), "Replace (position"),
    "replacechars": ('ReplaceChars(PadLeft([sn], 1000000, "S"), "S:' + "x" * 1000 + '")', "ReplaceChars (position 1)"),
    "join": ('Join(Split(PadLeft("", 1000000, ","), ","), PadLeft("", 1000, "x"))', "Join (position 1)"),
    "concat": ('PadLeft([sn], 1048576, "x") & "!"', "& (position"),
    "per-value": ('PadLeft([proxyAddresses], 1000000, "x")', "PadLeft (position 1)"),
    "squarings": (squarings(36), "* (position"),
    "split": ('Split(PadLeft(Left([sn], 0), 1048576, ","), ",")', "Split (position 1)"),
}


def run_rule(tmp_path: Path, expression: str, attrs: dict) -> RuleEvaluationError:
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent("""\
        rules:
          - name: Join
            direction: inbound
            source_object_type: user
            target_object_type: person
            link_type: Provision
            precedence: 10
          - name: Hostile
            direction: inbound
            source_object_type: user
            target_object_type: person
            precedence: 20
            flows:
              - target: description
                expression: '{expr}'
        """).replace("{expr}", expression.replace("'", "''")), encoding="utf-8")
    rs = RuleSet.load([rules], include_defaults=False)
    with pytest.raises(RuleEvaluationError) as info:
        rs.inbound("contoso.com", "user", attrs, {})
    return info.value


def _child_limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_expression_beyond_the_budget_is_a_rule_error_naming_rule_and_position(tmp_path, name):
    """In a child process (3 GiB, generous timeout), so that an unprotected evaluator fails the test, not the
    machine; the child prints the rule error's message."""
    expression, where = ATTACKS[name]
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tests.unit.test_rules_budget import run_rule
        import pytest
        attrs = {{"sn": ["Smith"], "employeeNumber": ["99999999999"],
                  "proxyAddresses": ["smtp:a{{}}@contoso.com".format(i) for i in range(200)]}}
        e = run_rule(Path({str(tmp_path)!r}), sys.stdin.read(), attrs)
        print(e.error_code)
        print(e.message)
    """)
    proc = subprocess.run([sys.executable, "-c", code], input=expression, capture_output=True, text=True,
                          timeout=300, preexec_fn=_child_limits, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    error_code, message = proc.stdout.split("\n", 1)
    assert error_code == "SyncRuleEvaluationError"
    assert message.startswith('Sync rule "Hostile", flow to description')
    assert where in message and re.search(r"\(position \d+\): \S", message), message  # never an empty reason
    assert "evaluation budget" in message, message


def test_the_operations_of_one_evaluation_are_counted(monkeypatch):
    from pybridge.core.rules import budget as budget_module
    monkeypatch.setattr(budget_module, "MAX_OPERATIONS", 1000)
    expr = compile_expression('Select($x, Split(PadLeft("", 5000, ","), ","), Trim($x))')
    with pytest.raises(RuleEvaluationError, match=r"Trim \(position \d+\): the rules evaluated more than 1000"):
        expr({}, {})
    assert compile_expression('Select($x, Split("a,b,c", ","), Trim($x))')({}, {}) == ["a", "b", "c"]


def test_the_characters_produced_by_one_evaluation_are_counted(monkeypatch):
    from pybridge.core.rules import budget as budget_module
    monkeypatch.setattr(budget_module, "MAX_PRODUCED", 10_000)
    expr = compile_expression('Select($x, Split(PadLeft("", 100, ","), ","), PadLeft($x, 500, "y"))')
    with pytest.raises(RuleEvaluationError, match=r"PadLeft \(position \d+\): the rules produced more than 10000"):
        expr({}, {})


def test_each_evaluation_has_its_own_budget(monkeypatch):
    from pybridge.core.rules import budget as budget_module
    monkeypatch.setattr(budget_module, "MAX_OPERATIONS", 50)
    expr = compile_expression('Trim(Trim(Trim(Trim(Trim([sn])))))')
    for _ in range(100):  # 100 objects of 5 operations each: each object is within its budget
        assert expr({"sn": [" x "]}, {}) == "x"


def test_values_within_the_budget_are_untouched():
    from pybridge.core.rules import budget as budget_module
    longest = budget_module.MAX_VALUE_LENGTH
    assert len(compile_expression(f'PadLeft([sn], {longest}, "x")')({"sn": ["a"]}, {})) == longest
    assert compile_expression('Replace([sn], "a", "bb")')({"sn": ["banana"]}, {}) == "bbbnbbnbb"
    assert compile_expression('Join([proxyAddresses], ";")')({"proxyAddresses": ["a", "b"]}, {}) == "a;b"


def test_a_memory_error_is_reported_with_a_reason():
    from pybridge.core.rules.functions import wrap_error
    assert wrap_error("PadLeft", 1, MemoryError()).message.startswith("PadLeft (position 1): out of memory")
    assert wrap_error("X", 3, KeyError()).message == "X (position 3): KeyError"


@pytest.mark.parametrize("text", [
    "2014-01-01 " + " " * 20_000 + "+1",  # the time zone pattern backtracked over the blanks
    "1" + " " * 20_000 + "PM",  # and the AM/PM one
])
def test_isdate_and_cdate_read_long_text_in_linear_time(text):
    """A 20 KB value is no date; in a child process with a generous timeout (the quadratic patterns took
    seconds per call, and a rule may call IsDate for each value of an attribute)."""
    code = ("import sys\nfrom pybridge.core.rules.functions import f_is_date\ntext = sys.stdin.read()\n"
            "print(all(f_is_date(text) is False for _ in range(200)))")
    proc = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.stdout.strip() == "True", proc.stderr[-2000:]
    with pytest.raises(RuleEvaluationError, match="is not a date"):
        compile_expression("CDate([d])")({"d": [text]}, {})


def test_dates_still_parse():
    for text in ("2013-01-10 4:00 PM -8", "12/25/2007", "20140905081453.0Z", "2014-09-05T08:14:53Z"):
        assert f_is_date(text), text


def test_every_function_that_can_multiply_its_input_checks_before_building():
    """The functions whose output can be much longer than their input check the length first (the guard
    after each call would come too late): keep this list in step with functions.py."""
    import inspect
    from pybridge.core.rules import functions
    checked = {name for name, spec in FUNCTIONS.items() if spec.impl is not None and
               "check_" in inspect.getsource(spec.impl) + inspect.getsource(functions._pad_length)
               and spec.impl.__name__ in ("f_pad_left", "f_pad_right", "f_replace", "f_replace_chars", "f_join",
                                          "f_split")}
    assert checked == {"PadLeft", "PadRight", "Replace", "ReplaceChars", "Join", "Split"}
    assert "check_length" in inspect.getsource(functions.op_concat)
    assert "check_length" in inspect.getsource(functions.op_add)
