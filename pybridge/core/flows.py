"""Attribute flows as data, and the small evaluator that runs them.

This is the built-in minimal flow set for users and security groups, shaped after
Entra Connect's out-of-box rules (In from AD - User Common, User AccountEnabled,
User Join, Group Common; Out to AAD - User Identity, Group Identity). Each rule is
plain data (a dict that YAML can hold); a flow names its source attributes and a
transform from :data:`TRANSFORMS`. The declarative rules engine replaces the
transforms with Entra Connect's expression language and loads rules from YAML.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from .model import AttributeInfo, Attributes, Value
from .values import display, display_list, get_values

# Metaverse object type per AD structural class (Entra Connect projects users and
# inetOrgPersons to "person" and groups to "group"; contacts are kept apart as "contact"
# so the user rules never apply to them).
MV_TYPE = {"user": "person", "inetorgperson": "person", "group": "group", "contact": "contact"}
# Entra connector-space object type per AD structural class.
TARGET_TYPE = {"user": "user", "inetorgperson": "user", "group": "group", "contact": "contact"}

UAC_ACCOUNTDISABLE = 0x2
GROUP_TYPE_SECURITY = 0x80000000


def _first(values: list[Value]) -> Value | None:
    return values[0] if values else None


def _trim(args: list[list[Value]], ctx: dict[str, Any]) -> Value | list[Value] | None:
    v = _first(args[0])
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _first_non_empty(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    # IIF(IsNullOrEmpty([displayName]),[cn],[displayName]) and the like.
    for values in args:
        v = _first(values)
        if v is not None and str(v).strip():
            return str(v).strip()
    return None


_NICK_ALLOWED = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")


def _nickname(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    # mailNickname as the admin set it; otherwise derived from the fallbacks the way Entra ID derives it for
    # synced objects (the UPN's prefix), with the characters Graph refuses in a mailNickname removed.
    given = _first_non_empty(args[:1], ctx)
    if given:
        return given
    for values in args[1:]:
        v = _first_non_empty([values], ctx)
        if v:
            derived = _NICK_ALLOWED.sub("", str(v).split("@", 1)[0]).strip(".")
            if derived:
                return derived
    return None


def _account_enabled(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    # IIF(BitAnd([userAccountControl],2)=0,True,False)
    v = _first(args[0])
    if v is None:
        return None
    return (int(v) & UAC_ACCOUNTDISABLE) == 0


def _upn(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    # userPrincipalName, else sAMAccountName@<domain FQDN> (Entra Connect's fallback)
    upn = _first_non_empty(args[:1], ctx)
    if upn:
        return upn
    sam = _first_non_empty(args[1:2], ctx)
    return f"{sam}@{ctx['domain_fqdn']}" if sam else None


def _security_enabled(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    v = _first(args[0])
    return v is not None and (int(v) & GROUP_TYPE_SECURITY) != 0


def _source_anchor(args: list[list[Value]], ctx: dict[str, Any]) -> Value | None:
    # IIF(IsPresent([mS-DS-ConsistencyGuid]),ConvertToBase64([mS-DS-ConsistencyGuid]),ConvertToBase64([objectGUID]))
    for values in args:
        v = _first(values)
        if isinstance(v, (bytes, bytearray)) and v:
            return base64.b64encode(bytes(v)).decode("ascii")
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _all(args: list[list[Value]], ctx: dict[str, Any]) -> list[Value] | None:
    return list(args[0]) if args and args[0] else None


TRANSFORMS: dict[str, Callable[[list[list[Value]], dict[str, Any]], Value | list[Value] | None]] = {
    "trim": _trim,
    "first_non_empty": _first_non_empty,
    "nickname": _nickname,
    "account_enabled": _account_enabled,
    "upn_or_sam_at_domain": _upn,
    "security_enabled": _security_enabled,
    "source_anchor": _source_anchor,
    "all_values": _all,
}


@dataclass(frozen=True)
class Flow:
    target: str
    sources: tuple[str, ...]
    mapping_type: str  # Direct | Constant | Expression (the original's MappingType)
    transform: str = "trim"
    expression: str = ""  # Entra Connect's expression for the same flow, shown in the reports
    constant: Value | None = None
    multi_valued: bool = False
    reference: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    direction: str  # inbound | outbound
    object_types: tuple[str, ...]  # source object types (AD classes inbound, metaverse types outbound)
    flows: tuple[Flow, ...]


def rule_from_data(data: dict[str, Any]) -> Rule:
    flows = tuple(
        Flow(target=f["target"], sources=tuple(f.get("sources", ())), mapping_type=f.get("type", "Direct"),
             transform=f.get("transform", "trim"), expression=f.get("expression", ""),
             constant=f.get("constant"), multi_valued=bool(f.get("multi_valued", False)),
             reference=bool(f.get("reference", False)))
        for f in data["flows"]
    )
    for f in flows:
        if f.mapping_type != "Constant" and f.transform not in TRANSFORMS:
            raise ValueError(f"rule {data['name']!r}: unknown transform {f.transform!r} for {f.target}")
    return Rule(name=data["name"], direction=data["direction"],
                object_types=tuple(t.lower() for t in data["object_types"]), flows=flows)


ANCHOR = "mS-DS-ConsistencyGuid"  # stands for the configured sourceAnchor attribute

BUILTIN_RULES: tuple[dict[str, Any], ...] = (
    {"name": "In from AD - User Join", "direction": "inbound", "object_types": ["user", "inetOrgPerson"],
     "flows": [
         {"target": "sourceAnchor", "sources": [ANCHOR, "objectGUID"], "type": "Expression",
          "transform": "source_anchor",
          "expression": 'IIF(IsPresent([mS-DS-ConsistencyGuid]),ConvertToBase64([mS-DS-ConsistencyGuid]),'
                        'ConvertToBase64([objectGUID]))'},
     ]},
    {"name": "In from AD - User AccountEnabled", "direction": "inbound",
     "object_types": ["user", "inetOrgPerson"],
     "flows": [
         {"target": "accountEnabled", "sources": ["userAccountControl"], "type": "Expression",
          "transform": "account_enabled", "expression": "IIF(BitAnd([userAccountControl],2)=0,True,False)"},
     ]},
    {"name": "In from AD - User Common", "direction": "inbound", "object_types": ["user", "inetOrgPerson"],
     "flows": [
         {"target": "displayName", "sources": ["displayName", "cn"], "type": "Expression",
          "transform": "first_non_empty",
          "expression": "IIF(IsNullOrEmpty([displayName]),[cn],Trim([displayName]))"},
         {"target": "givenName", "sources": ["givenName"], "type": "Expression", "expression": "Trim([givenName])"},
         {"target": "sn", "sources": ["sn"], "type": "Expression", "expression": "Trim([sn])"},
         {"target": "mail", "sources": ["mail"], "type": "Expression", "expression": "Trim([mail])"},
         {"target": "mailNickname", "sources": ["mailNickname", "userPrincipalName", "sAMAccountName"],
          "type": "Expression", "transform": "nickname",
          "expression": 'IIF(IsPresent([mailNickname]),Trim([mailNickname]),Word([userPrincipalName],1,"@"))'},
         {"target": "userPrincipalName", "sources": ["userPrincipalName", "sAMAccountName"], "type": "Expression",
          "transform": "upn_or_sam_at_domain",
          "expression": 'IIF(IsPresent([userPrincipalName]),Trim([userPrincipalName]),'
                        '[sAMAccountName]&"@"&%Domain.FQDN%)'},
         {"target": "department", "sources": ["department"], "type": "Expression",
          "expression": "Trim([department])"},
         {"target": "title", "sources": ["title"], "type": "Expression", "expression": "Trim([title])"},
     ]},
    {"name": "In from AD - Group Join", "direction": "inbound", "object_types": ["group"],
     "flows": [
         {"target": "sourceAnchor", "sources": [ANCHOR, "objectGUID"], "type": "Expression",
          "transform": "source_anchor",
          "expression": 'IIF(IsPresent([mS-DS-ConsistencyGuid]),ConvertToBase64([mS-DS-ConsistencyGuid]),'
                        'ConvertToBase64([objectGUID]))'},
     ]},
    {"name": "In from AD - Group Common", "direction": "inbound", "object_types": ["group"],
     "flows": [
         {"target": "displayName", "sources": ["displayName", "cn"], "type": "Expression",
          "transform": "first_non_empty",
          "expression": "IIF(IsNullOrEmpty([displayName]),[cn],Trim([displayName]))"},
         {"target": "mailNickname", "sources": ["mailNickname", "sAMAccountName", "cn"], "type": "Expression",
          "transform": "nickname",
          "expression": "IIF(IsPresent([mailNickname]),Trim([mailNickname]),[sAMAccountName])"},
         {"target": "description", "sources": ["description"], "type": "Expression",
          "expression": "Trim([description])"},
         {"target": "securityEnabled", "sources": ["groupType"], "type": "Expression",
          "transform": "security_enabled", "expression": "IIF(BitAnd([groupType],&H80000000)=&H80000000,True,False)"},
         {"target": "member", "sources": ["member"], "type": "Direct", "transform": "all_values",
          "multi_valued": True, "reference": True},
     ]},
    {"name": "In from AD - Contact Join", "direction": "inbound", "object_types": ["contact"],
     "flows": [
         {"target": "sourceAnchor", "sources": [ANCHOR, "objectGUID"], "type": "Expression",
          "transform": "source_anchor",
          "expression": 'IIF(IsPresent([mS-DS-ConsistencyGuid]),ConvertToBase64([mS-DS-ConsistencyGuid]),'
                        'ConvertToBase64([objectGUID]))'},
     ]},
    {"name": "In from AD - Contact Common", "direction": "inbound", "object_types": ["contact"],
     "flows": [
         {"target": "displayName", "sources": ["displayName", "cn"], "type": "Expression",
          "transform": "first_non_empty",
          "expression": "IIF(IsNullOrEmpty([displayName]),[cn],Trim([displayName]))"},
         {"target": "givenName", "sources": ["givenName"], "type": "Expression", "expression": "Trim([givenName])"},
         {"target": "sn", "sources": ["sn"], "type": "Expression", "expression": "Trim([sn])"},
         {"target": "mail", "sources": ["mail"], "type": "Expression", "expression": "Trim([mail])"},
     ]},
    {"name": "Out to AAD - Contact Identity", "direction": "outbound", "object_types": ["contact"],
     "flows": [
         {"target": "displayName", "sources": ["displayName"], "type": "Direct"},
         {"target": "givenName", "sources": ["givenName"], "type": "Direct"},
         {"target": "surname", "sources": ["sn"], "type": "Direct"},
         {"target": "mail", "sources": ["mail"], "type": "Direct"},
     ]},
    {"name": "Out to AAD - User Identity", "direction": "outbound", "object_types": ["person"],
     "flows": [
         {"target": "onPremisesImmutableId", "sources": ["sourceAnchor"], "type": "Direct"},
         {"target": "userPrincipalName", "sources": ["userPrincipalName"], "type": "Direct"},
         {"target": "accountEnabled", "sources": ["accountEnabled"], "type": "Direct", "transform": "all_values"},
         {"target": "displayName", "sources": ["displayName"], "type": "Direct"},
         {"target": "mailNickname", "sources": ["mailNickname"], "type": "Direct"},
         {"target": "givenName", "sources": ["givenName"], "type": "Direct"},
         {"target": "surname", "sources": ["sn"], "type": "Direct"},
         {"target": "mail", "sources": ["mail"], "type": "Direct"},
         {"target": "department", "sources": ["department"], "type": "Direct"},
         {"target": "jobTitle", "sources": ["title"], "type": "Direct"},
     ]},
    {"name": "Out to AAD - Group Identity", "direction": "outbound", "object_types": ["group"],
     "flows": [
         {"target": "displayName", "sources": ["displayName"], "type": "Direct"},
         {"target": "mailNickname", "sources": ["mailNickname"], "type": "Direct"},
         {"target": "description", "sources": ["description"], "type": "Direct"},
         {"target": "securityEnabled", "sources": ["securityEnabled"], "type": "Direct", "transform": "all_values"},
         {"target": "mailEnabled", "type": "Constant", "constant": False},
         {"target": "members", "sources": ["member"], "type": "Direct", "transform": "all_values",
          "multi_valued": True, "reference": True},
     ]},
)


def builtin_rules(source_anchor: str = ANCHOR) -> list[Rule]:
    """The built-in rules, with the configured sourceAnchor attribute in the join rules."""
    rules = []
    for data in BUILTIN_RULES:
        rule = rule_from_data(data)
        flows = tuple(replace(f, sources=tuple(source_anchor if s == ANCHOR else s for s in f.sources),
                              expression=f.expression.replace(ANCHOR, source_anchor))
                      for f in rule.flows)
        rules.append(replace(rule, flows=flows))
    return rules


@dataclass
class FlowResult:
    values: dict[str, Any]  # target attribute -> value (scalar) or list (multi-valued); absent = null
    info: list[AttributeInfo]
    out_of_scope: list[str]


def _type_name(value: Any, reference: bool) -> str:
    if reference:
        return "Reference"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, (bytes, bytearray)):
        return "Binary"
    return "String"


def apply(rules: list[Rule], direction: str, object_type: str, source: Attributes,
          ctx: dict[str, Any], data_source: str) -> FlowResult:
    """Run every *direction* rule in scope for *object_type* over *source*.

    The first rule (in list order, i.e. precedence) to contribute a non-null value to
    an attribute wins, as Entra Connect's precedence does.
    """
    values: dict[str, Any] = {}
    info: list[AttributeInfo] = []
    out_of_scope: list[str] = []
    for rule in rules:
        if rule.direction != direction:
            continue
        if object_type.lower() not in rule.object_types:
            out_of_scope.append(f"{rule.name} (Scope conditions not satisfied: [objectType EQUAL "
                                f"{'/'.join(rule.object_types)}])")
            continue
        for flow in rule.flows:
            if flow.target in values:
                continue  # a rule of higher precedence already contributed this attribute
            if flow.mapping_type == "Constant":
                value: Any = flow.constant
            else:
                value = TRANSFORMS[flow.transform]([get_values(source, s) for s in flow.sources], ctx)
                if isinstance(value, list) and not flow.multi_valued:
                    value = value[0] if value else None
            if value is not None and value != []:
                values[flow.target] = value
            info.append(AttributeInfo(
                name=flow.target, is_multi_valued=flow.multi_valued, type=_type_name(value, flow.reference),
                value=display_list(value) if isinstance(value, list) else display(value),
                operation="Add" if flow.target in values else "None", sync_rule=rule.name,
                mapping_type=flow.mapping_type, data_source=data_source))
    return FlowResult(values=values, info=info, out_of_scope=out_of_scope)
