"""Declarative sync rules, as Entra Connect has them: scoping filters, join rules, attribute flows.

Rules are YAML (the built-in defaults mirror Entra Connect's out-of-box rules; admins add
theirs under config/rules/); flow expressions use Entra Connect's declarative
provisioning expression language, compiled once when the rules load::

    rs = RuleSet.load([Path("config/rules")], source_anchor="mS-DS-ConsistencyGuid")
    inbound = rs.inbound("contoso.com", "user", cs_attributes, ctx)
    outbound = rs.outbound(inbound.mv_type, metaverse_attributes, ctx)

See docs/rules.md for the file format, the functions and how precedence and merging work.
"""
from __future__ import annotations

from .engine import GRAPH_READ_ONLY, RuleSet, SyncOutcome
from .expression import CompiledExpression, Env, compile_expression
from .functions import AUTHORITATIVE_NULL, FUNCTIONS, IGNORE_THIS_FLOW
from .loader import DEFAULTS_PATH, load_rules
from .model import (AttributeFlow, ErrorFunctionTriggered, JoinCondition, JoinGroup, Rule, RuleError,
                    RuleEvaluationError, ScopeClause, ScopeGroup)

__all__ = [
    "AUTHORITATIVE_NULL", "DEFAULTS_PATH", "FUNCTIONS", "GRAPH_READ_ONLY", "IGNORE_THIS_FLOW", "AttributeFlow",
    "CompiledExpression", "Env", "ErrorFunctionTriggered", "JoinCondition", "JoinGroup", "Rule", "RuleError",
    "RuleEvaluationError", "RuleSet", "ScopeClause", "ScopeGroup", "SyncOutcome", "compile_expression",
    "load_rules",
]
