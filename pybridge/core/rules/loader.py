"""YAML -> validated, compiled sync rules.

Every problem in every file is collected - unknown keys, missing or invalid values,
expressions that do not parse, unknown functions or parameters, duplicate names or
precedences, mixed merge types - and raised together as one :class:`RuleError`
whose ``problems`` name the file, the line, the rule, the key path and, for an
expression, the position in it. Nothing about a rule is left to be discovered in
the middle of a sync.

File shape (see docs/rules.md)::

    parameters:            # optional: %Name% values for expressions (ctx values win)
      Name: value
    rules:
      - name: ...
        direction: inbound | outbound
        ...

A rule whose name is already defined (by the built-in defaults or an earlier file)
replaces that rule; an entry with only ``name`` plus ``enabled`` and/or
``precedence`` changes just those settings of the existing rule (to disable a
default rule, say).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from ... import settings_reader
from ..dn import InvalidDnError, canonical
from .expression import (KNOWN_PARAMETERS, MULTI_VALUED, CompiledExpression, ExpressionSyntaxError, _attr_fn,
                         _constant_fn, _excerpt, close_matches)
from .functions import parse_hex
from .model import (DIRECTIONS, LINK_TYPES, MAPPING_TYPES, MERGE_TYPES, SCOPE_OPERATOR_ALIASES, SCOPE_OPERATORS,
                    VALUELESS_OPERATORS, AttributeFlow, JoinCondition, JoinGroup, Rule, RuleError, ScopeClause,
                    ScopeGroup)

#: Bytes of one rules file (the built-in defaults.yaml is about 26 KB).
MAX_RULES_FILE_BYTES = 8 * 1024 * 1024
DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")
DEFAULTS_ORIGIN = "<built-in defaults.yaml>"
DEFAULT_ANCHOR = "mS-DS-ConsistencyGuid"

RULE_KEYS = {"name", "description", "direction", "connector", "source_object_type", "target_object_type",
             "link_type", "precedence", "enabled", "scope", "join", "flows"}
PATCH_KEYS = {"name", "enabled", "precedence"}
FLOW_KEYS = {"target", "type", "source", "value", "expression", "merge", "multi_valued", "reference", "exportable"}
CLAUSE_KEYS = {"attribute", "operator", "value"}
JOIN_KEYS = {"source", "target", "case_sensitive"}
REQUIRED = ("name", "direction", "source_object_type", "target_object_type", "precedence")


class _LineDict(dict):
    line = 0


@lru_cache(maxsize=1)
def _line_loader() -> type:
    """A safe loader that records each mapping's line; built (and PyYAML imported) only when a rules file is
    parsed, which a run whose rules come from the cache never does (pybridge.engine)."""
    import yaml
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LineLoader(base):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader: Any, node: Any) -> _LineDict:
        loader.flatten_mapping(node)
        d = _LineDict(loader.construct_mapping(node, deep=True))
        d.line = node.start_mark.line + 1
        return d

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return LineLoader


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, origin: str, line: int | None, rule: str | None, path: str, message: str) -> None:
        where = f"{origin}:{line}" if line else origin
        who = f' rule "{rule}":' if rule else ""
        at = f" {path}:" if path else ""
        self.items.append(f"{where}:{who}{at} {message}")


def _origin(path: Path) -> str:
    return str(path)


def rule_files(paths: list[Path], include_defaults: bool) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(origin, file) for the defaults and every file given (a directory gives its *.yaml, *.yml), in the order
    they load; and the paths given that do not exist."""
    files: list[tuple[str, Path]] = []
    missing: list[Path] = []
    if include_defaults:
        files.append((DEFAULTS_ORIGIN, DEFAULTS_PATH))
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            files.extend((_origin(f), f) for f in found)
        elif p.exists():
            files.append((_origin(p), p))
        else:
            missing.append(p)
    return files, missing


def read_documents(paths: list[Path], include_defaults: bool, problems: _Problems) -> list[tuple[str, Any]]:
    """(origin, parsed YAML) for the defaults and every file given (a directory gives its *.yaml, *.yml)."""
    docs: list[tuple[str, Any]] = []
    files, missing = rule_files(paths, include_defaults)
    for p in missing:
        problems.add(_origin(p), None, None, "", "no such file or directory")
    for origin, f in files:
        try:
            text = settings_reader.read_text(f, MAX_RULES_FILE_BYTES, what="rules file")
        except OSError as e:
            problems.add(origin, None, None, "", f"cannot be read: {e.strerror or e}")
            continue
        except UnicodeDecodeError as e:
            problems.add(origin, None, None, "", f"cannot be read: not UTF-8 text (byte {e.start + 1})")
            continue
        import yaml

        from ... import yamlcheck
        try:
            docs.append((origin, yamlcheck.parse(text, _line_loader())))  # bounded: aliases, depth, size
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            what = "is refused" if isinstance(e, yamlcheck.YamlLimitError) else "is not valid YAML"
            problems.add(origin, line, None, "", f"{what}: {getattr(e, 'problem', None) or e}")
    return docs


def _line(obj: Any, fallback: int | None = None) -> int | None:
    return getattr(obj, "line", None) or fallback


class _RuleBuilder:
    def __init__(self, origin: str, problems: _Problems, parameters: set[str], anchor: str | None) -> None:
        self.origin = origin
        self.problems = problems
        self.parameters = frozenset(parameters)
        self.anchor = anchor  # defaults only: the configured sourceAnchor attribute

    def problem(self, raw: Any, name: str | None, path: str, message: str) -> None:
        self.problems.add(self.origin, _line(raw), name, path, message)

    def text(self, raw: dict, key: str, name: str | None, required: bool = False, default: str = "") -> str:
        v = raw.get(key)
        if v is None:
            if required:
                self.problem(raw, name, key, "is required")
            return default
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            self.problem(raw, name, key, f"must be text, not {type(v).__name__}")
            return default
        return str(v)

    def choice(self, raw: dict, key: str, name: str | None, allowed: tuple[str, ...], default: str | None,
               required: bool = False) -> str | None:
        v = raw.get(key)
        if v is None:
            if required:
                self.problem(raw, name, key, f"is required (one of {', '.join(allowed)})")
            return default
        for a in allowed:
            if str(v).lower() == a.lower():
                return a
        self.problem(raw, name, key, f"\"{v}\" is not one of {', '.join(allowed)}")
        return default

    def unknown_keys(self, raw: dict, allowed: set[str], name: str | None, path: str) -> None:
        for k in raw:
            if k not in allowed:
                hint = ""
                near = close_matches(str(k), sorted(allowed), n=1)
                if near:
                    hint = f" (did you mean \"{near[0]}\"?)"
                self.problem(raw, name, f"{path}{k}" if path else str(k), f"unknown key{hint}")

    def build(self, raw: Any, index: int) -> Rule | dict | None:
        if not isinstance(raw, dict):
            self.problems.add(self.origin, None, None, f"rules[{index}]", "must be a mapping of rule settings")
            return None
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(raw, None, f"rules[{index}].name", "is required (text)")
            return None
        name = name.strip()
        if set(raw) <= PATCH_KEYS and len(raw) > 1:
            patch: dict[str, Any] = {"name": name, "line": _line(raw), "origin": self.origin}
            if "enabled" in raw:
                if not isinstance(raw["enabled"], bool):
                    self.problem(raw, name, "enabled", "must be true or false")
                else:
                    patch["enabled"] = raw["enabled"]
            if "precedence" in raw:
                p = self.precedence(raw, name)
                if p is not None:
                    patch["precedence"] = p
            return patch
        self.unknown_keys(raw, RULE_KEYS, name, "")
        for key in REQUIRED:
            if raw.get(key) is None:
                self.problem(raw, name, key, "is required")
        direction = self.choice(raw, "direction", name, DIRECTIONS, None)
        link = self.choice(raw, "link_type", name, LINK_TYPES, "Join") or "Join"
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problem(raw, name, "enabled", "must be true or false")
            enabled = True
        precedence = self.precedence(raw, name) if raw.get("precedence") is not None else None
        rule = Rule(
            name=name,
            direction=direction or "inbound",
            source_object_type=self.text(raw, "source_object_type", name),
            target_object_type=self.text(raw, "target_object_type", name),
            precedence=precedence if precedence is not None else 0,
            link_type=link,
            connector=self.text(raw, "connector", name, default="*") or "*",
            description=self.text(raw, "description", name),
            enabled=enabled,
            scope=self.scope(raw, name),
            join=self.join(raw, name),
            flows=self.flows(raw, name, direction or "inbound"),
            origin=self.origin,
        )
        return rule

    def precedence(self, raw: dict, name: str) -> int | None:
        v = raw.get("precedence")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            self.problem(raw, name, "precedence", f"must be a whole number of 0 or more, not {v!r}")
            return None
        return v

    # scope ---------------------------------------------------------------------------------------
    def scope(self, raw: dict, name: str) -> tuple[ScopeGroup, ...]:
        groups_raw = raw.get("scope")
        if groups_raw is None:
            return ()
        if not isinstance(groups_raw, list):
            self.problem(raw, name, "scope", "must be a list of groups (each a list of clauses)")
            return ()
        groups = []
        for gi, g in enumerate(groups_raw):
            clauses_raw = g.get("clauses") if isinstance(g, dict) and set(g) == {"clauses"} else g
            if isinstance(clauses_raw, (dict, str)):
                clauses_raw = [clauses_raw]  # a group of one clause
            if not isinstance(clauses_raw, list) or not clauses_raw:
                self.problem(raw, name, f"scope[{gi}]", "must be a non-empty list of clauses")
                continue
            clauses = []
            for ci, c in enumerate(clauses_raw):
                clause = self.clause(raw, c, name, f"scope[{gi}][{ci}]")
                if clause is not None:
                    clauses.append(clause)
            if clauses:
                groups.append(ScopeGroup(tuple(clauses)))
        return tuple(groups)

    def clause(self, raw: dict, c: Any, name: str, path: str) -> ScopeClause | None:
        attribute: object  # text from "attr OP value", anything YAML holds from a mapping (checked below)
        op: object
        value: object
        if isinstance(c, str):
            parts = c.strip().split(None, 2)
            if len(parts) < 2:
                self.problem(raw, name, path, f"\"{c}\" must read \"attribute OPERATOR value\"")
                return None
            attribute, op, value = parts[0], parts[1], (parts[2] if len(parts) > 2 else None)
            where = raw
        elif isinstance(c, dict):
            self.unknown_keys(c, CLAUSE_KEYS, name, path + ".")
            attribute, op, value = c.get("attribute"), c.get("operator"), c.get("value")
            where = c
            if not isinstance(attribute, str) or not attribute.strip():
                self.problem(c, name, path + ".attribute", "is required")
                return None
            if not isinstance(op, str):
                self.problem(c, name, path + ".operator", f"is required (one of {', '.join(SCOPE_OPERATORS)})")
                return None
        else:
            self.problem(raw, name, path, "must be a mapping {attribute, operator, value} or \"attr OP value\"")
            return None
        canon = SCOPE_OPERATOR_ALIASES.get(op.upper(), op.upper())
        if canon not in SCOPE_OPERATORS:
            self.problem(where, name, path + ".operator", f"\"{op}\" is not one of {', '.join(SCOPE_OPERATORS)}")
            return None
        if isinstance(value, bool):
            value = "True" if value else "False"
        elif value is not None:
            value = str(value)
        if canon in VALUELESS_OPERATORS:
            if value not in (None, ""):
                self.problem(where, name, path + ".value", f"{canon} takes no value")
            value = None
        elif value is None:
            self.problem(where, name, path + ".value", f"{canon} needs a value")
            return None
        if canon in ("ISBITSET", "ISBITNOTSET"):
            try:
                _bits(value)
            except ValueError:
                self.problem(where, name, path + ".value", f"{canon} needs a number (decimal or &H hex), not "
                                                           f"\"{value}\"")
                return None
        if canon in ("ISMEMBEROF", "ISNOTMEMBEROF"):
            try:
                canonical(value or "")
            except (InvalidDnError, ValueError):
                self.problem(where, name, path + ".value", f"\"{value}\" is not a distinguished name")
                return None
        return ScopeClause(attribute.strip(), canon, value)

    # join ----------------------------------------------------------------------------------------
    def join(self, raw: dict, name: str) -> tuple[JoinGroup, ...]:
        groups_raw = raw.get("join")
        if groups_raw is None:
            return ()
        if not isinstance(groups_raw, list):
            self.problem(raw, name, "join", "must be a list of groups (each a list of {source, target})")
            return ()
        groups = []
        for gi, g in enumerate(groups_raw):
            conds_raw = [g] if isinstance(g, dict) else g
            if not isinstance(conds_raw, list) or not conds_raw:
                self.problem(raw, name, f"join[{gi}]", "must be a non-empty list of {source, target}")
                continue
            conds = []
            for ci, c in enumerate(conds_raw):
                path = f"join[{gi}][{ci}]"
                if not isinstance(c, dict):
                    self.problem(raw, name, path, "must be a mapping {source, target}")
                    continue
                self.unknown_keys(c, JOIN_KEYS, name, path + ".")
                s, t = c.get("source"), c.get("target")
                if not isinstance(s, str) or not isinstance(t, str):
                    self.problem(c, name, path, "needs source and target attribute names")
                    continue
                cs = c.get("case_sensitive", False)
                if not isinstance(cs, bool):
                    self.problem(c, name, path + ".case_sensitive", "must be true or false")
                    cs = False
                conds.append(JoinCondition(s, t, cs))
            if conds:
                groups.append(JoinGroup(tuple(conds)))
        return tuple(groups)

    # flows ---------------------------------------------------------------------------------------
    def flows(self, raw: dict, name: str, direction: str) -> tuple[AttributeFlow, ...]:
        flows_raw = raw.get("flows")
        if flows_raw is None:
            return ()
        if not isinstance(flows_raw, list):
            self.problem(raw, name, "flows", "must be a list of attribute flows")
            return ()
        out = []
        targets: set[str] = set()
        for i, f in enumerate(flows_raw):
            flow = self.flow(raw, f, name, f"flows[{i}]", direction)
            if flow is None:
                continue
            if flow.target.lower() in targets:
                self.problem(f, name, f"flows[{i}].target", f"{flow.target} already has a flow in this rule")
                continue
            targets.add(flow.target.lower())
            out.append(flow)
        return tuple(out)

    def flow(self, rule_raw: dict, f: Any, name: str, path: str, direction: str) -> AttributeFlow | None:
        if not isinstance(f, dict):
            self.problem(rule_raw, name, path, "must be a mapping {target, type, ...}")
            return None
        self.unknown_keys(f, FLOW_KEYS, name, path + ".")
        target = f.get("target")
        if not isinstance(target, str) or not target.strip():
            self.problem(f, name, path + ".target", "is required")
            return None
        target = target.strip()
        kind = f.get("type")
        if kind is None:
            kind = "Expression" if "expression" in f else "Constant" if "value" in f else "Direct"
        canon = next((m for m in MAPPING_TYPES if str(kind).lower() == m.lower()), None)
        if canon is None:
            self.problem(f, name, path + ".type", f"\"{kind}\" is not one of {', '.join(MAPPING_TYPES)}")
            return None
        merge = self.choice(f, "merge", name, MERGE_TYPES, "Update") or "Update"
        mv = f.get("multi_valued")
        if mv is None:
            mv = target.lower() in MULTI_VALUED or isinstance(f.get("value"), list)
        elif not isinstance(mv, bool):
            self.problem(f, name, path + ".multi_valued", "must be true or false")
            mv = False
        ref = f.get("reference", False)
        if not isinstance(ref, bool):
            self.problem(f, name, path + ".reference", "must be true or false")
            ref = False
        exportable = f.get("exportable")
        if exportable is not None and not isinstance(exportable, bool):
            self.problem(f, name, path + ".exportable", "must be true or false")
            exportable = None
        if exportable is not None and direction != "outbound":
            self.problem(f, name, path + ".exportable", "applies to outbound flows only")
        flow = AttributeFlow(target=target, mapping_type=canon, merge=merge, multi_valued=mv, reference=ref,
                             exportable=exportable)
        extra = {"Direct": ("value", "expression"), "Constant": ("source", "expression"),
                 "Expression": ("source", "value")}[canon]
        for k in extra:
            if k in f:
                self.problem(f, name, f"{path}.{k}", f"does not apply to a {canon} flow")
        if canon == "Direct":
            src = f.get("source", target)
            if not isinstance(src, str) or not src.strip():
                self.problem(f, name, path + ".source", "must name the source attribute")
                return None
            src = src.strip()
            return replace(flow, source=src, compiled=_attr_fn(src))
        if canon == "Constant":
            if "value" not in f:
                self.problem(f, name, path + ".value", "is required for a Constant flow")
                return None
            value = f["value"]
            if isinstance(value, (dict,)) or value is None:
                self.problem(f, name, path + ".value", "must be text, a number, true/false or a list of them")
                return None
            frozen = list(value) if isinstance(value, list) else value
            return replace(flow, constant=value, compiled=_constant_fn(frozen))
        text = f.get("expression")
        if not isinstance(text, str) or not text.strip():
            self.problem(f, name, path + ".expression", "is required for an Expression flow")
            return None
        text = text.replace("\r", " ").replace("\n", " ").strip()
        if self.anchor and self.anchor != DEFAULT_ANCHOR:
            text = text.replace(f"[{DEFAULT_ANCHOR}]", f"[{self.anchor}]")
        try:
            compiled = CompiledExpression(text, self.parameters)
        except ExpressionSyntaxError as e:
            self.problem(f, name, path + ".expression", f"{e}: {_excerpt(text, e.position)}")
            return None
        return replace(flow, expression=text, compiled=compiled)


_BITS = re.compile(r"^\s*(?:&H([0-9A-Fa-f]+)|0x([0-9A-Fa-f]+)|(-?\d+))\s*$")


def _bits(value: str | None) -> int:
    m = _BITS.match(value or "")
    if not m:
        raise ValueError(value)
    if m.group(1):
        return parse_hex(m.group(1))
    if m.group(2):
        return int(m.group(2), 16)
    return int(m.group(3))


def load_rules(paths: list[Path], *, source_anchor: str = DEFAULT_ANCHOR,
               include_defaults: bool = True) -> tuple[list[Rule], dict[str, Any]]:
    """The rules and parameters of the defaults (unless excluded) and *paths*, validated and compiled.

    Raises RuleError listing every problem.
    """
    problems = _Problems()
    docs = read_documents(list(paths), include_defaults, problems)
    # parameters first: an expression in one file may use a parameter another file defines
    parameters: dict[str, Any] = {}
    bodies: list[tuple[str, list]] = []
    for origin, doc in docs:
        if doc is None:
            continue
        if isinstance(doc, list):
            bodies.append((origin, doc))
            continue
        if not isinstance(doc, dict):
            problems.add(origin, None, None, "", "must hold a mapping with a 'rules' list (or a list of rules)")
            continue
        for k in doc:
            if k not in ("rules", "parameters"):
                problems.add(origin, _line(doc), None, str(k), "unknown key (a rules file holds 'rules' and "
                                                               "'parameters')")
        params = doc.get("parameters") or {}
        if not isinstance(params, dict):
            problems.add(origin, _line(doc), None, "parameters", "must be a mapping of name: value")
        else:
            for k, v in params.items():
                if not isinstance(v, (str, int, float, bool)):
                    problems.add(origin, _line(params), None, f"parameters.{k}", "must be text or a number")
                    continue
                parameters[str(k)] = v
        rules_raw = doc.get("rules")
        if rules_raw is None:
            rules_raw = []
        if not isinstance(rules_raw, list):
            problems.add(origin, _line(doc), None, "rules", "must be a list of rules")
            continue
        bodies.append((origin, rules_raw))
    allowed_params = set(KNOWN_PARAMETERS) | set(parameters)

    by_name: dict[str, Rule] = {}
    order: list[str] = []
    for origin, rules_raw in bodies:
        builder = _RuleBuilder(origin, problems, allowed_params,
                               source_anchor if origin == DEFAULTS_ORIGIN else None)
        seen_here: set[str] = set()
        for i, raw in enumerate(rules_raw):
            before = len(problems.items)
            built = builder.build(raw, i)
            if built is None:
                continue
            name = built["name"] if isinstance(built, dict) else built.name
            key = name.lower()
            if key in seen_here:
                problems.add(origin, _line(raw), name, "name", "is defined twice in this file")
                continue
            seen_here.add(key)
            if isinstance(built, dict):
                existing = by_name.get(key)
                if existing is None:
                    problems.add(origin, built["line"], name, "", "changes a rule that does not exist (a new rule "
                                                                 "needs direction, object types, precedence...)")
                    continue
                changes = {k: built[k] for k in ("enabled", "precedence") if k in built}
                by_name[key] = replace(existing, **changes)
                continue
            if len(problems.items) > before:
                continue  # keep going to find more problems, but do not register a broken rule
            if key not in by_name:
                order.append(key)
            by_name[key] = built
    rules = [by_name[k] for k in order]
    _check_precedence(rules, problems)
    _check_merge(rules, problems)
    if problems.items:
        n = len(problems.items)
        raise RuleError(f"{n} problem{'s' if n != 1 else ''} in the sync rules: " + problems.items[0]
                        + (" ..." if n > 1 else ""), problems=problems.items)
    rules.sort(key=lambda r: (r.precedence, r.name.lower()))
    return rules, parameters


def _check_precedence(rules: list[Rule], problems: _Problems) -> None:
    seen: dict[int, Rule] = {}
    for r in rules:
        other = seen.get(r.precedence)
        if other is not None:
            problems.add(r.origin, None, r.name, "precedence",
                         f"{r.precedence} is already the precedence of \"{other.name}\" ({other.origin}); "
                         "precedence values must be unique, as in Entra Connect")
        else:
            seen[r.precedence] = r


def _check_merge(rules: list[Rule], problems: _Problems) -> None:
    seen: dict[tuple[str, str, str, str], tuple[str, Rule]] = {}
    for r in rules:
        for f in r.flows:
            key = (r.direction, r.source_object_type.lower(), r.target_object_type.lower(), f.target.lower())
            prev = seen.get(key)
            if prev is None:
                seen[key] = (f.merge, r)
            elif prev[0] != f.merge:
                problems.add(r.origin, None, r.name, f"flows.{f.target}.merge",
                             f"{f.merge} differs from {prev[0]} in \"{prev[1].name}\": every rule flowing "
                             f"{f.target} must use the same merge type, as in Entra Connect")
