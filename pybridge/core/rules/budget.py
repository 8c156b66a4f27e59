"""The evaluation budget: what sync rules may cost for one object.

Sync rules come from files an administrator writes and values from the directory anyone with
write access to an attribute can set; neither may make a sync take gigabytes or minutes. Every
evaluation of the rules for an object (its inbound rules, then its outbound rules) gets a fresh
:class:`Budget`, and going beyond any of these limits ends it as a rule error
(SyncRuleEvaluationError) that names the rule, the attribute flow, the function and its position:

* :data:`MAX_VALUE_LENGTH`: no text or binary value a function or operator produces may be longer.
  Functions that can multiply their input (PadLeft, PadRight, Replace, ReplaceChars, Join, ``&``,
  ``+``) check the length before building the value.
* :data:`MAX_VALUES`: no multi-valued result (Split, Select, Where, a function applied to each
  value) may hold more values.
* :data:`MAX_OPERATIONS`: function calls and operators evaluated, each value of a multi-valued
  argument counting once.
* :data:`MAX_PRODUCED`: characters (and values) produced in all.
* :data:`MAX_NUMBER_BITS`: no whole number ``*`` produces may be larger (checked before multiplying).

Entra ID's own limits are far below these (a Graph request is at most 4 MB, most attributes at
most 256 or 1024 characters): a rule within Entra Connect's language and Entra ID's limits never
comes near them. docs/rules.md documents them.
"""
from __future__ import annotations

from typing import Any

#: Characters (or bytes) of one value a function or operator produces.
MAX_VALUE_LENGTH = 1024 * 1024
#: Values of one multi-valued result.
MAX_VALUES = 1024 * 1024
#: Function calls and operators per evaluation (each value of a multi-valued argument counts).
MAX_OPERATIONS = 5_000_000
#: Characters and values produced per evaluation, in all.
MAX_PRODUCED = 64 * 1024 * 1024
#: Bits of a whole number an operator may produce (Entra Connect's numbers are 64-bit; Python's grow
#: without end, and 36 nested squarings would take hours).
MAX_NUMBER_BITS = 4096


class BudgetExceeded(ValueError):
    """An evaluation went beyond the budget (reported as a rule error with the function and position)."""


def check_length(length: int, what: str = "the value") -> None:
    """Raise BudgetExceeded when a value of *length* characters would be too long (called before building it)."""
    if length > MAX_VALUE_LENGTH:
        raise BudgetExceeded(f"{what} would be {length} characters long; a value is limited to {MAX_VALUE_LENGTH} "
                             "(the evaluation budget, docs/rules.md)")


def check_number_bits(bits: int) -> None:
    """Raise BudgetExceeded when a whole number of *bits* bits would be too large (checked before computing it)."""
    if bits > MAX_NUMBER_BITS:
        raise BudgetExceeded(f"the number would have about {bits} bits; numbers are limited to {MAX_NUMBER_BITS} "
                             "bits (the evaluation budget, docs/rules.md)")


def check_count(count: int) -> None:
    """Raise BudgetExceeded when a multi-valued result of *count* values would be too large."""
    if count > MAX_VALUES:
        raise BudgetExceeded(f"the result would hold {count} values; a multi-valued value is limited to "
                             f"{MAX_VALUES} (the evaluation budget, docs/rules.md)")


class Budget:
    """What one evaluation has spent so far."""

    __slots__ = ("operations", "produced", "max_operations", "max_length", "max_produced")

    def __init__(self) -> None:
        self.operations = 0
        self.produced = 0
        # the limits as they are when the evaluation starts (read inline by the expression compiler's guard)
        self.max_operations = MAX_OPERATIONS
        self.max_length = MAX_VALUE_LENGTH
        self.max_produced = MAX_PRODUCED

    def spend(self, operations: int = 1) -> None:
        self.operations += operations
        if self.operations > self.max_operations:
            raise BudgetExceeded(f"the rules evaluated more than {MAX_OPERATIONS} functions and operators for this "
                                 "object (the evaluation budget, docs/rules.md)")

    def charge(self, value: Any) -> None:
        """Account for a value just produced; raise BudgetExceeded when it or the total is too large."""
        if isinstance(value, (str, bytes, bytearray)):
            size = len(value)
            check_length(size)
        elif isinstance(value, list):
            check_count(len(value))
            size = len(value)
            for item in value:
                if isinstance(item, (str, bytes, bytearray)):
                    size += len(item)
        else:
            return
        self.produced += size
        if self.produced > self.max_produced:
            raise BudgetExceeded(f"the rules produced more than {MAX_PRODUCED} characters for this object (the "
                                 "evaluation budget, docs/rules.md)")


__all__ = ["Budget", "BudgetExceeded", "MAX_OPERATIONS", "MAX_PRODUCED", "MAX_VALUES", "MAX_VALUE_LENGTH",
           "MAX_NUMBER_BITS", "check_count", "check_length", "check_number_bits"]
