"""Validated sync rules as plain data, and back: what a rules cache keeps instead of the YAML.

``dump`` turns rules that loaded without a problem into JSON-ready data (every setting of every rule, the
text of each expression and the attributes it reads); ``load`` rebuilds the same rules from it. Loading
skips what made the rules trustworthy in the first place (YAML, validation, parsing every expression):
expressions are compiled when a sync first evaluates them. So ``load`` accepts only data of exactly the
shape ``dump`` writes, and raises ValueError for anything else; the caller then loads the rule files.
No I/O here: where the data is kept is the caller's business (pybridge.cache).
"""
from __future__ import annotations

from typing import Any

from .expression import CompiledExpression, _attr_fn, _constant_fn
from .model import (DIRECTIONS, LINK_TYPES, MAPPING_TYPES, MERGE_TYPES, SCOPE_OPERATORS, AttributeFlow,
                    JoinCondition, JoinGroup, Rule, ScopeClause, ScopeGroup)

FORMAT = 1  # the shape below; change it with any change to it


def dump(rules: list[Rule], parameters: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "parameters": dict(parameters), "rules": [_dump_rule(r) for r in rules]}


def _dump_rule(r: Rule) -> dict[str, Any]:
    return {"name": r.name, "direction": r.direction, "source_object_type": r.source_object_type,
            "target_object_type": r.target_object_type, "precedence": r.precedence, "link_type": r.link_type,
            "connector": r.connector, "description": r.description, "enabled": r.enabled, "origin": r.origin,
            "scope": [[[c.attribute, c.operator, c.value] for c in g.clauses] for g in r.scope],
            "join": [[[c.source, c.target, c.case_sensitive] for c in g.conditions] for g in r.join],
            "flows": [_dump_flow(f) for f in r.flows]}


def _dump_flow(f: AttributeFlow) -> dict[str, Any]:
    out = {"target": f.target, "mapping_type": f.mapping_type, "source": f.source, "expression": f.expression,
           "constant": f.constant, "merge": f.merge, "multi_valued": f.multi_valued, "reference": f.reference,
           "exportable": f.exportable}
    if isinstance(f.compiled, CompiledExpression):
        out["reads"] = list(f.compiled.attributes)
    return out


# -- load: every value checked for the type dump wrote -------------------------------------------------------

def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("text expected")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("true or false expected")
    return v


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ValueError("list expected")
    return v


def _one_of(v: Any, allowed: tuple[str, ...]) -> str:
    if v not in allowed:
        raise ValueError(f"{v!r} not in {allowed}")
    return str(v)


def _constant(v: Any) -> Any:
    if isinstance(v, list):
        for item in v:
            _scalar(item)
        return v
    return _scalar(v)


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    raise ValueError("a constant is text, a number, true/false or a list of them")


def load(data: Any) -> tuple[list[Rule], dict[str, Any]]:
    """The rules and parameters *data* (from :func:`dump`) holds; ValueError when it is not that."""
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a rules cache of this format")
        parameters = data["parameters"]
        if not isinstance(parameters, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool))
                                                       for k, v in parameters.items()):
            raise ValueError("parameters")
        return [_load_rule(r) for r in _list(data["rules"])], dict(parameters)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a rules cache: {type(exc).__name__}") from None


def _load_rule(r: Any) -> Rule:
    if not isinstance(r, dict):
        raise ValueError("rule")
    precedence = r["precedence"]
    if isinstance(precedence, bool) or not isinstance(precedence, int) or precedence < 0:
        raise ValueError("precedence")
    scope = tuple(ScopeGroup(tuple(_clause(c) for c in _list(g))) for g in _list(r["scope"]))
    join = tuple(JoinGroup(tuple(_condition(c) for c in _list(g))) for g in _list(r["join"]))
    direction = _one_of(r["direction"], DIRECTIONS)
    return Rule(name=_str(r["name"]), direction=direction, source_object_type=_str(r["source_object_type"]),
                target_object_type=_str(r["target_object_type"]), precedence=precedence,
                link_type=_one_of(r["link_type"], LINK_TYPES), connector=_str(r["connector"]),
                description=_str(r["description"]), enabled=_bool(r["enabled"]), scope=scope, join=join,
                flows=tuple(_flow(f) for f in _list(r["flows"])), origin=_str(r["origin"]))


def _clause(c: Any) -> ScopeClause:
    attribute, operator, value = _list(c)
    return ScopeClause(_str(attribute), _one_of(operator, SCOPE_OPERATORS), _opt_str(value))


def _condition(c: Any) -> JoinCondition:
    source, target, case_sensitive = _list(c)
    return JoinCondition(_str(source), _str(target), _bool(case_sensitive))


def _flow(f: Any) -> AttributeFlow:
    if not isinstance(f, dict):
        raise ValueError("flow")
    kind = _one_of(f["mapping_type"], MAPPING_TYPES)
    exportable = f["exportable"]
    settings: dict[str, Any] = {
        "target": _str(f["target"]), "mapping_type": kind, "merge": _one_of(f["merge"], MERGE_TYPES),
        "multi_valued": _bool(f["multi_valued"]), "reference": _bool(f["reference"]),
        "exportable": None if exportable is None else _bool(exportable)}
    if kind == "Direct":
        source = _str(f["source"])
        return AttributeFlow(**settings, source=source, compiled=_attr_fn(source))
    if kind == "Constant":
        value = _constant(f["constant"])
        if value is None:
            raise ValueError("a Constant flow has a value")
        frozen = list(value) if isinstance(value, list) else value
        return AttributeFlow(**settings, constant=value, compiled=_constant_fn(frozen))
    text = _str(f["expression"])
    reads = [_str(a) for a in _list(f["reads"])]
    return AttributeFlow(**settings, expression=text, compiled=CompiledExpression.validated(text, reads))
