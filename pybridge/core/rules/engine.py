"""The sync engine over rules: scope, join, attribute flows with precedence and merge.

One object at a time, as Single Object Sync runs:

* inbound (an AD connector-space object to the metaverse): the rules of its connector
  and object class are scoped; exactly one join rule (a rule with join conditions or
  link type Provision/StickyJoin) must be in scope for the object to reach the
  metaverse, else it is *excluded*. The flows of every rule in scope then contribute
  metaverse attributes, by precedence. A True ``cloudFiltered`` (the default join
  rules flow it from their exclusion expression) also excludes the object, naming
  the rule and the condition that held.
* outbound (the metaverse object to Entra): the provisioning rule in scope decides the
  Entra object type; the flows of the rules for that type contribute Graph
  properties. Targets Graph cannot write are computed and shown, and listed in
  ``not_exportable``.

Precedence: for each target attribute the rules in scope are read lowest precedence
number first. With merge type Update the first rule with a value wins; NULL lets the
next rule contribute; AuthoritativeNull makes the attribute null and stops; an
IgnoreThisFlow flow is as if absent. Merge and MergeCaseInsensitive union the values
of every rule in scope (exact, or ignoring case).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Sequence

from msgspec import Struct, field

from ..dn import InvalidDnError, canonical
from ..model import AttributeInfo
from ..values import display, display_list
from .expression import KNOWN_PARAMETERS, CompiledExpression, Env, explained_value
from .functions import (AUTHORITATIVE_NULL, IGNORE_THIS_FLOW, ExprTypeError, Special, to_num,
                        to_str, truth)
from .loader import DEFAULT_ANCHOR, _bits, load_rules
from .model import INBOUND, OUTBOUND, AttributeFlow, Rule, RuleEvaluationError, ScopeClause

# Graph properties pybridge can never write for a synced object: read-only (onPremises*, proxyAddresses, the
# group's mail) or writable only for cloud-only objects (onPremisesExtensionAttributes).
GRAPH_READ_ONLY = frozenset(p.lower() for p in (
    "proxyAddresses", "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier", "onPremisesUserPrincipalName", "onPremisesSyncEnabled",
    "onPremisesNetBiosName", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors", "securityIdentifier",
))
GRAPH_READ_ONLY_PREFIXES = ("onpremisesextensionattributes",)
# Entra object types Microsoft Graph can create and update (orgContacts are read-only in Graph).
GRAPH_WRITABLE_TYPES = frozenset({"user", "group"})


class SyncOutcome(Struct):
    """What the rules made of one object: values, the flows that contributed, rules out of scope."""

    values: dict[str, Any]  # attribute -> single value or list (multi-valued); absent means null
    info: list[AttributeInfo]  # one per contributing flow
    out_of_scope: list[str]  # "<rule> (Scope conditions not satisfied: [attr op value], ...)" / "(Sync rule disabled)"
    excluded: tuple[str, str] | None = None  # (rule, condition) when the object goes no further (cloudFiltered...)
    mv_type: str | None = None  # inbound: the metaverse type the join rule links to
    not_exportable: set[str] = field(default_factory=set)  # outbound targets Graph cannot write: shown, never sent
    # additions beyond the integration contract
    target_type: str | None = None  # outbound: Entra object type of the provisioning rule in scope
    join_rule: str | None = None  # the join/provisioning rule in scope
    link_type: str | None = None  # its link type (Join: link to an existing object only; Provision: may create)
    managed: set[str] = field(default_factory=set)  # targets an in-scope flow decides (null there = clear)
    in_scope: list[str] = field(default_factory=list)  # rules in scope, by precedence


# -- scoping ---------------------------------------------------------------------------------------

def _norm(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (bytes, bytearray)):
        return display(v) or ""
    try:
        return to_str(v).lower()
    except ExprTypeError:
        return str(v).lower()


def _as_number(s: Any) -> float | int | None:
    if isinstance(s, bool):
        return None
    try:
        return to_num(s)
    except ExprTypeError:
        return None


def _clause_test(c: ScopeClause) -> Callable[[dict[str, list]], bool]:
    key = c.attribute.lower()
    op = c.operator
    raw = c.value
    val = (raw or "").lower()

    def present(attrs: dict[str, list]) -> list:
        return [v for v in attrs.get(key) or () if v is not None and v != ""]

    if op == "ISNULL":
        return lambda a: not present(a)
    if op == "ISNOTNULL":
        return lambda a: bool(present(a))
    if op in ("EQUAL", "ISIN"):
        return lambda a: any(_norm(v) == val for v in present(a))
    if op in ("NOTEQUAL", "ISNOTIN"):
        return lambda a: not any(_norm(v) == val for v in present(a))
    if op in ("STARTSWITH", "NOTSTARTSWITH"):
        neg = op.startswith("NOT")
        return lambda a: neg != any(_norm(v).startswith(val) for v in present(a))
    if op in ("ENDSWITH", "NOTENDSWITH"):
        neg = op.startswith("NOT")
        return lambda a: neg != any(_norm(v).endswith(val) for v in present(a))
    if op in ("CONTAINS", "NOTCONTAINS"):
        neg = op.startswith("NOT")
        return lambda a: neg != any(val in _norm(v) for v in present(a))
    if op in ("ISBITSET", "ISBITNOTSET"):
        mask = _bits(raw)
        neg = op == "ISBITNOTSET"

        def bit(a: dict[str, list]) -> bool:
            hit = False
            for v in present(a):
                n = _as_number(v)
                if n is not None and (int(n) & mask) == mask:
                    hit = True
                    break
            return neg != hit
        return bit
    if op in ("ISMEMBEROF", "ISNOTMEMBEROF"):
        group = canonical(raw or "")
        neg = op == "ISNOTMEMBEROF"

        def member(a: dict[str, list]) -> bool:
            hit = False
            for v in a.get("memberof") or ():
                try:
                    if canonical(to_str(v)) == group:
                        hit = True
                        break
                except (InvalidDnError, ExprTypeError):
                    continue
            return neg != hit
        return member
    compare: Callable[[Any, Any], bool] = {
        "LESSTHAN": lambda x, y: x < y, "LESSTHAN_OR_EQUAL": lambda x, y: x <= y,
        "GREATERTHAN": lambda x, y: x > y, "GREATERTHAN_OR_EQUAL": lambda x, y: x >= y}[op]
    num = _as_number(raw)

    def ordered(a: dict[str, list]) -> bool:
        for v in present(a):
            n = _as_number(v) if num is not None else None
            if n is not None:
                if compare(n, num):
                    return True
            elif compare(_norm(v), val):
                return True
        return False
    return ordered


class _CompiledRule:
    __slots__ = ("rule", "groups")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.groups = [[(c, _clause_test(c)) for c in g.clauses] for g in rule.scope]

    def in_scope(self, attrs: dict[str, list]) -> bool:
        if not self.groups:
            return True
        for g in self.groups:
            for _, test in g:
                if not test(attrs):
                    break
            else:
                return True
        return False

    def failures(self, attrs: dict[str, list], with_values: bool = False) -> str:
        parts = []
        for g in self.groups:
            failed = []
            for c, test in g:
                if not test(attrs):
                    text = c.text
                    if with_values:
                        vals = attrs.get(c.attribute.lower())
                        shown = explained_value(vals[0] if vals and len(vals) == 1 else vals or None)
                        text += f" ({c.attribute} = {shown})"
                    failed.append(text)
            parts.append(", ".join(failed))
        return " OR ".join(parts)


# -- flows -----------------------------------------------------------------------------------------

def _flow_fn(flow: AttributeFlow) -> Callable[[Env], Any]:
    comp = flow.compiled
    if isinstance(comp, CompiledExpression):
        return comp.fn
    assert comp is not None, flow
    return comp


def _normalize(raw: Any, multi: bool) -> Any:
    """A flow's result as the target holds it: None for null; a list for multi-valued targets."""
    if raw is None or raw == "" or raw == []:
        return None
    if multi:
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for v in items:
            if v is None or v == "" or isinstance(v, Special):
                continue
            out.append(to_str(v) if isinstance(v, dt.datetime) else v)
        return out or None
    if isinstance(raw, list):
        raw = next((v for v in raw if v is not None and v != ""), None)
        if raw is None:
            return None
    if isinstance(raw, dt.datetime):
        return to_str(raw)
    return raw


def _type_name(value: Any, reference: bool) -> str:
    if reference:
        return "Reference"
    v = value[0] if isinstance(value, list) and value else value
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, (bytes, bytearray)):
        return "Binary"
    return "String"


class _Plan(Struct):
    """The rules of one direction and object type, with their flows grouped by target, ready to apply."""

    rules: list[_CompiledRule]
    join_idx: list[int]
    # target -> (multi-valued, merge type, [(rule index, flow, fn)]) in precedence order
    targets: list[tuple[str, bool, str, list[tuple[int, AttributeFlow, Callable[[Env], Any]]]]]
    all_targets: list[frozenset[str]]  # per rule: every target it flows
    not_exportable: list[frozenset[str]]  # per rule: the targets Graph cannot write


def _build_plan(rules: list[_CompiledRule]) -> _Plan:
    targets: dict[str, tuple[str, bool, str, list]] = {}
    for i, cr in enumerate(rules):
        for flow in cr.rule.flows:
            key = flow.target.lower()
            if key not in targets:
                targets[key] = (flow.target, flow.multi_valued, flow.merge, [])
            targets[key][3].append((i, flow, _flow_fn(flow)))
    join_idx = [i for i, cr in enumerate(rules) if cr.rule.is_join_rule]
    return _Plan(rules, join_idx, list(targets.values()),
                 [frozenset(f.target for f in cr.rule.flows) for cr in rules],
                 [frozenset(f.target for f in cr.rule.flows if not _exportable(f)) for cr in rules])


class RuleSet:
    """Loaded, compiled sync rules and the engine that applies them to one object."""

    def __init__(self, rules: Sequence[Rule], parameters: dict[str, Any] | None = None,
                 source_anchor: str = DEFAULT_ANCHOR) -> None:
        self.rules: list[Rule] = sorted(rules, key=lambda r: (r.precedence, r.name.lower()))
        self.parameters: dict[str, Any] = dict(parameters or {})
        self.source_anchor = source_anchor
        self._compiled = {id(r): _CompiledRule(r) for r in self.rules}
        self._by_name = {r.name.lower(): r for r in self.rules}
        self._plans: dict[tuple, _Plan] = {}
        self._outbound: dict[tuple, tuple[list[_CompiledRule], dict[str, _Plan]]] = {}

    @classmethod
    def load(cls, extra_paths: Sequence[Path] = (), *, source_anchor: str = DEFAULT_ANCHOR,
             include_defaults: bool = True) -> "RuleSet":
        """The built-in rules (unless excluded) plus the rules in *extra_paths* (files or directories).

        Raises RuleError listing every problem, before anything is synced.
        """
        rules, parameters = load_rules(list(extra_paths), source_anchor=source_anchor,
                                       include_defaults=include_defaults)
        return cls(rules, parameters, source_anchor)

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name.lower())

    # -- plans (cached per connector and object type) -------------------------------------------
    def _inbound_plan(self, connector: str, object_class: str) -> _Plan:
        key = (INBOUND, connector.lower(), object_class.lower())
        plan = self._plans.get(key)
        if plan is None:
            plan = _build_plan([self._compiled[id(r)] for r in self.rules
                                if r.direction == INBOUND and r.applies_to(connector, object_class)])
            self._plans[key] = plan
        return plan

    def _outbound_plans(self, mv_type: str) -> tuple[list[_CompiledRule], dict[str, _Plan]]:
        key = (OUTBOUND, mv_type.lower())
        cached = self._outbound.get(key)
        if cached is None:
            candidates = [self._compiled[id(r)] for r in self.rules
                          if r.direction == OUTBOUND and r.source_object_type.lower() == mv_type.lower()]
            by_target: dict[str, _Plan] = {}
            for t in {cr.rule.target_object_type.lower() for cr in candidates}:
                by_target[t] = _build_plan([cr for cr in candidates if cr.rule.target_object_type.lower() == t])
            cached = (candidates, by_target)
            self._outbound[key] = cached
        return cached

    def source_attributes(self) -> set[str]:
        """Every attribute an inbound rule reads (scope, join, flows): what the AD import must fetch."""
        out: set[str] = set()
        for rule in self.rules:
            if rule.direction != INBOUND:
                continue
            for group in rule.scope:
                out.update(c.attribute for c in group.clauses)
            for jg in rule.join:
                out.update(c.source for c in jg.conditions)
            for flow in rule.flows:
                if flow.source:
                    out.add(flow.source)
                if flow.expression:
                    compiled = flow.compiled if isinstance(flow.compiled, CompiledExpression) else \
                        CompiledExpression(flow.expression, KNOWN_PARAMETERS | set(self.parameters))
                    out.update(compiled.attributes)
        return out

    def outbound_targets(self, mv_type: str, target_type: str | None = None) -> set[str]:
        """Every target an enabled outbound rule for *mv_type* (and *target_type*) flows."""
        return {f.target for r in self.rules if r.direction == OUTBOUND and r.enabled
                and r.source_object_type.lower() == mv_type.lower()
                and (target_type is None or r.target_object_type.lower() == target_type.lower())
                for f in r.flows}

    # -- inbound ---------------------------------------------------------------------------------
    def inbound(self, connector: str, object_class: str, cs: dict[str, list], ctx: dict[str, Any]) -> SyncOutcome:
        plan = self._inbound_plan(connector, object_class)
        env = Env.build(cs, ctx, self.parameters)
        in_scope, out_of_scope = self._scope(plan.rules, env.attrs)
        names = [cr.rule.name for i, cr in enumerate(plan.rules) if in_scope[i]]
        joins = [i for i in plan.join_idx if in_scope[i]]
        if not joins:
            return SyncOutcome(values={}, info=[], out_of_scope=out_of_scope, in_scope=names,
                               excluded=self._why_not_joined(plan, env.attrs, INBOUND, object_class, connector))
        if len(joins) > 1:
            raise RuleEvaluationError(
                "More than one sync rule with a join is in scope for this object: "
                + ", ".join(f'"{plan.rules[i].rule.name}"' for i in joins)
                + ". Entra Connect allows one; disable or rescope the extra rule.")
        join = plan.rules[joins[0]].rule
        values, info, managed, winners = self._flow(plan, in_scope, env, connector)
        excluded = None
        if "cloudFiltered" in values and _is_true(values["cloudFiltered"]):
            rule, flow = winners["cloudfiltered"]
            excluded = (rule.name, _explain_filtered(flow, env))
        return SyncOutcome(values=values, info=info, out_of_scope=out_of_scope, excluded=excluded,
                           mv_type=join.target_object_type, join_rule=join.name, link_type=join.link_type,
                           managed=managed, in_scope=names)

    # -- outbound --------------------------------------------------------------------------------
    def outbound(self, mv_type: str, mv: dict[str, list], ctx: dict[str, Any] | None = None) -> SyncOutcome:
        candidates, by_target = self._outbound_plans(mv_type)
        env = Env.build(mv, ctx or {}, self.parameters)
        in_scope, _ = self._scope(candidates, env.attrs)
        joins = [cr for i, cr in enumerate(candidates) if in_scope[i] and cr.rule.is_join_rule]
        if len(joins) > 1:
            raise RuleEvaluationError(
                "More than one outbound sync rule with a join is in scope for this object: "
                + ", ".join(f'"{cr.rule.name}"' for cr in joins) + ". Entra Connect allows one; disable or "
                "rescope the extra rule.")
        if not joins:
            out = [self._out_text(cr, env.attrs) for i, cr in enumerate(candidates)
                   if not in_scope[i] and cr.rule.is_join_rule]
            return SyncOutcome(values={}, info=[], out_of_scope=out, in_scope=[],
                               excluded=self._why_not_joined_out(candidates, env.attrs, mv_type))
        join = joins[0].rule
        target_type = join.target_object_type.lower()
        plan = by_target[target_type]
        scoped, out_of_scope = self._scope(plan.rules, env.attrs)
        # the other object types' join rules are out of scope too: list them, as the original does
        out_of_scope = [self._out_text(cr, env.attrs) for i, cr in enumerate(candidates)
                        if not in_scope[i] and cr.rule.is_join_rule
                        and cr.rule.target_object_type.lower() != target_type] + out_of_scope
        values, info, managed, _ = self._flow(plan, scoped, env, "Metaverse")
        writable = target_type in GRAPH_WRITABLE_TYPES
        not_exportable: set[str] = set()
        for i, cr in enumerate(plan.rules):
            if scoped[i]:
                not_exportable.update(plan.all_targets[i] if not writable else plan.not_exportable[i])
        names = [cr.rule.name for i, cr in enumerate(plan.rules) if scoped[i]]
        return SyncOutcome(values=values, info=info, out_of_scope=out_of_scope, mv_type=mv_type,
                           not_exportable=not_exportable, target_type=join.target_object_type,
                           join_rule=join.name, link_type=join.link_type, managed=managed, in_scope=names)

    # -- pieces ----------------------------------------------------------------------------------
    @staticmethod
    def _out_text(cr: _CompiledRule, attrs: dict[str, list]) -> str:
        if not cr.rule.enabled:
            return f"{cr.rule.name} (Sync rule disabled)"
        return f"{cr.rule.name} (Scope conditions not satisfied: {cr.failures(attrs)})"

    def _scope(self, rules: list[_CompiledRule], attrs: dict[str, list]) -> tuple[list[bool], list[str]]:
        flags = []
        out = []
        for cr in rules:
            ok = cr.rule.enabled and cr.in_scope(attrs)
            flags.append(ok)
            if not ok:
                out.append(self._out_text(cr, attrs))
        return flags, out

    @staticmethod
    def _why_not_joined(plan: _Plan, attrs: dict[str, list], direction: str, object_type: str,
                        connector: str) -> tuple[str, str]:
        if plan.join_idx:
            cr = plan.rules[plan.join_idx[0]]
            if not cr.rule.enabled:
                return cr.rule.name, "Sync rule disabled"
            return cr.rule.name, "Scope conditions not satisfied: " + cr.failures(attrs, with_values=True)
        return ("(no sync rule)", f'No {direction} sync rule with a join or provisioning link applies to '
                                  f'object type "{object_type}" on connector "{connector}"')

    @staticmethod
    def _why_not_joined_out(candidates: list[_CompiledRule], attrs: dict[str, list],
                            mv_type: str) -> tuple[str, str]:
        joins = [cr for cr in candidates if cr.rule.is_join_rule]
        if not joins:
            return ("(no sync rule)", f'No outbound sync rule with a join or provisioning link applies to '
                                      f'metaverse type "{mv_type}"')
        enabled = [cr for cr in joins if cr.rule.enabled]
        if not enabled:
            return joins[0].rule.name, "Sync rule disabled"

        def misses(cr: _CompiledRule) -> int:
            return min((sum(1 for _, t in g if not t(attrs)) for g in cr.groups), default=0)
        best = min(enabled, key=misses)
        return best.rule.name, "Scope conditions not satisfied: " + best.failures(attrs, with_values=True)

    def _flow(self, plan: _Plan, in_scope: list[bool], env: Env, data_source: str
              ) -> tuple[dict[str, Any], list[AttributeInfo], set[str], dict[str, tuple[Rule, AttributeFlow]]]:
        values: dict[str, Any] = {}
        info: list[AttributeInfo] = []
        managed: set[str] = set()
        winners: dict[str, tuple[Rule, AttributeFlow]] = {}
        rules = plan.rules
        for target, multi, merge, entries in plan.targets:
            merged: list | None = None
            merged_keys: set | None = None
            for ri, flow, fn in entries:
                if not in_scope[ri]:
                    continue
                rule = rules[ri].rule
                try:
                    raw = fn(env)
                except RuleEvaluationError as e:
                    raise _in_flow(e, rule, flow) from e.__cause__
                except Exception as e:  # a Direct or Constant flow cannot fail; an expression's failures are wrapped
                    raise _in_flow(RuleEvaluationError(str(e)), rule, flow) from e
                if raw is IGNORE_THIS_FLOW:
                    continue
                managed.add(target)
                if raw is AUTHORITATIVE_NULL:
                    if merged is None:
                        winners[target.lower()] = (rule, flow)
                        info.append(_info(target, multi, None, rule, flow, data_source, "Delete"))
                    break
                value = _normalize(raw, multi)
                if value is None:
                    continue  # NULL: nothing to contribute; a rule of lower precedence may
                if merge == "Update":
                    values[target] = value
                    winners[target.lower()] = (rule, flow)
                    info.append(_info(target, multi, value, rule, flow, data_source, "Add"))
                    break
                # Merge / MergeCaseInsensitive: every rule in scope adds its values
                if merged is None:
                    merged, merged_keys = [], set()
                    winners[target.lower()] = (rule, flow)
                assert merged_keys is not None
                added = []
                for v in (value if isinstance(value, list) else [value]):
                    k = _merge_key(v, merge)
                    if k not in merged_keys:
                        merged_keys.add(k)
                        merged.append(v)
                        added.append(v)
                if added:
                    info.append(_info(target, multi, added, rule, flow, data_source, "Add"))
            if merged:
                values[target] = merged if multi else merged[0]
        return values, info, managed, winners


def _merge_key(v: Any, merge: str) -> Any:
    if isinstance(v, bytearray):
        return bytes(v)
    if merge == "MergeCaseInsensitive" and isinstance(v, str):
        return v.lower()
    return v


def _is_true(v: Any) -> bool:
    try:
        return truth(v)
    except ExprTypeError:
        return False


def _exportable(flow: AttributeFlow) -> bool:
    if flow.exportable is not None:
        return flow.exportable
    t = flow.target.lower()
    return t not in GRAPH_READ_ONLY and not t.startswith(GRAPH_READ_ONLY_PREFIXES)


def _info(target: str, multi: bool, value: Any, rule: Rule, flow: AttributeFlow, data_source: str,
          operation: str) -> AttributeInfo:
    shown = display_list(value) if isinstance(value, list) else display(value)
    return AttributeInfo(name=target, is_multi_valued=multi, type=_type_name(value, flow.reference), value=shown,
                         add=shown if multi and value is not None else None, delete=None, operation=operation,
                         sync_rule=rule.name, mapping_type=flow.mapping_type, data_source=data_source)


def _in_flow(e: RuleEvaluationError, rule: Rule, flow: AttributeFlow) -> RuleEvaluationError:
    where = f'Sync rule "{rule.name}", flow to {flow.target}'
    if flow.mapping_type == "Expression":
        where += f" ({flow.expression})"
    e.message = f"{where}: {e.message}"
    e.args = (e.message,)
    e.rule, e.target = rule.name, flow.target
    return e


def _explain_filtered(flow: AttributeFlow, env: Env) -> str:
    comp = flow.compiled
    if isinstance(comp, CompiledExpression):
        why = comp.explain_true(env)
        if why:
            return f"cloudFiltered is True because {why}"
    return f"cloudFiltered is True ({flow.mapping_type} flow {flow.source_text})"
