"""Sync rules as data: the shape of Entra Connect's synchronization rules.

A rule says which objects it applies to (direction, connector, source object type,
scoping filter), how it links them (link type, join conditions) and which attribute
flows it contributes, each flow with its merge behaviour. Precedence orders rules:
the lower number wins, as in Entra Connect.

The classes are frozen; the compiled form of a flow (a closure) rides along on the
flow but takes no part in equality or repr.
"""
from __future__ import annotations

from typing import Any, Callable

from msgspec import Struct

from ...errors import ConfigError, PyBridgeError

INBOUND = "inbound"
OUTBOUND = "outbound"
DIRECTIONS = (INBOUND, OUTBOUND)

LINK_TYPES = ("Join", "Provision", "StickyJoin")
MAPPING_TYPES = ("Direct", "Constant", "Expression")
MERGE_TYPES = ("Update", "Merge", "MergeCaseInsensitive")

# Scoping operators (Entra Connect's names). The aliases are the spellings the Synchronization
# Rules Editor and the documentation also use; they are stored under the canonical name.
SCOPE_OPERATORS = (
    "EQUAL", "NOTEQUAL", "LESSTHAN", "LESSTHAN_OR_EQUAL", "GREATERTHAN", "GREATERTHAN_OR_EQUAL",
    "STARTSWITH", "NOTSTARTSWITH", "ENDSWITH", "NOTENDSWITH", "CONTAINS", "NOTCONTAINS",
    "ISNULL", "ISNOTNULL", "ISBITSET", "ISBITNOTSET", "ISMEMBEROF", "ISNOTMEMBEROF", "ISIN", "ISNOTIN",
)
SCOPE_OPERATOR_ALIASES = {
    "STARTWITH": "STARTSWITH", "NOTSTARTWITH": "NOTSTARTSWITH", "ENDWITH": "ENDSWITH",
    "NOTENDWITH": "NOTENDSWITH", "ISNOTBITSET": "ISBITNOTSET",
}
VALUELESS_OPERATORS = ("ISNULL", "ISNOTNULL")


class RuleError(ConfigError):
    """Sync rules cannot be loaded or an expression cannot be compiled.

    ``problems`` lists every problem found, each naming the file, the rule, the key
    path and, for expressions, the position (1-based character) in the expression.
    """

    recommended_action = "Correct the sync rule file named in each problem, then run again."


class RuleEvaluationError(PyBridgeError):
    """An expression failed while an object was synced (Error(), a value of the wrong type...)."""

    error_code = "SyncRuleEvaluationError"
    recommended_action = ("Read the message: it names the sync rule, the attribute flow and the function. "
                          "Correct the attribute value in Active Directory or the rule's expression.")

    def __init__(self, message: str, *, rule: str | None = None, target: str | None = None,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.rule = rule
        self.target = target


class ErrorFunctionTriggered(RuleEvaluationError):
    """The expression called Error("...") (Entra Connect's sync-rule-error-function-triggered)."""

    error_code = "sync-rule-error-function-triggered"


class ScopeClause(Struct, frozen=True):
    """One condition of a scoping filter: attribute, operator, value."""

    attribute: str
    operator: str  # canonical name from SCOPE_OPERATORS
    value: str | None = None

    @property
    def text(self) -> str:
        """"[attr op value]", as the original's out-of-scope explanation writes a condition."""
        if self.operator in VALUELESS_OPERATORS:
            return f"[{self.attribute} {self.operator}]"
        return f"[{self.attribute} {self.operator} {self.value}]"


class ScopeGroup(Struct, frozen=True):
    """Clauses ANDed together; a rule's groups are ORed."""

    clauses: tuple[ScopeClause, ...]


class JoinCondition(Struct, frozen=True):
    """Source attribute (in the source object) equals target attribute (in the target object)."""

    source: str
    target: str
    case_sensitive: bool = False


class JoinGroup(Struct, frozen=True):
    """Conditions ANDed; groups are tried in order until one finds exactly one match."""

    conditions: tuple[JoinCondition, ...]


class AttributeFlow(Struct, frozen=True):
    """One attribute flow of a rule: its target, where the value comes from, and how it merges."""

    target: str
    mapping_type: str  # Direct | Constant | Expression
    source: str | None = None  # Direct: the source attribute
    expression: str | None = None  # Expression: the declarative provisioning expression
    constant: Any = None  # Constant: the value
    merge: str = "Update"  # Update | Merge | MergeCaseInsensitive
    multi_valued: bool = False  # the target holds several values
    reference: bool = False  # the values are references (DNs resolved by the pipeline)
    exportable: bool | None = None  # outbound: False when Graph cannot write the target; None = decide by name
    compiled: Callable[[Any], Any] | None = None  # built from the above: not part of what the flow is (below)

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__struct_fields__ if name != "compiled")

    def __eq__(self, other: object) -> bool:
        if type(other) is not AttributeFlow:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__struct_fields__ if name != "compiled")
        return f"AttributeFlow({shown})"

    @property
    def source_text(self) -> str:
        """What the flow takes, as the reports show it."""
        if self.mapping_type == "Direct":
            return f"[{self.source}]"
        if self.mapping_type == "Constant":
            return repr(self.constant) if not isinstance(self.constant, str) else f'"{self.constant}"'
        return self.expression or ""


class Rule(Struct, frozen=True):
    """One synchronization rule: direction, object types, precedence, scope, join and flows."""

    name: str
    direction: str  # inbound | outbound
    source_object_type: str  # AD class inbound (user, group...), metaverse type outbound (person, group)
    target_object_type: str  # metaverse type inbound, Entra object type outbound (user, group, contact)
    precedence: int
    link_type: str = "Join"
    connector: str = "*"  # "*" = every connector of the direction
    description: str = ""
    enabled: bool = True
    scope: tuple[ScopeGroup, ...] = ()
    join: tuple[JoinGroup, ...] = ()
    flows: tuple[AttributeFlow, ...] = ()
    origin: str = ""  # the file the rule came from ("<defaults>" for the built-in rules)

    @property
    def is_join_rule(self) -> bool:
        """A rule that links objects (Entra Connect's "... Join" rules): join conditions or Provision/StickyJoin."""
        return bool(self.join) or self.link_type in ("Provision", "StickyJoin")

    def applies_to(self, connector: str, object_type: str) -> bool:
        return (self.source_object_type.lower() == object_type.lower()
                and (self.connector == "*" or self.connector.lower() == connector.lower()))
