"""Entra Connect's declarative provisioning expression language: tokenizer, parser, compiler.

Text is tokenized, parsed into a small AST and compiled once into nested closures
(``fn(env) -> value``); nothing is ever passed to ``eval``. Every problem found while
parsing - a syntax error, an unknown function, a wrong number of arguments, an
unknown name, an unbound ``$variable`` - is an :class:`ExpressionSyntaxError` with
the 1-based position in the text, so that the loader can report it before any sync.

Syntax (Microsoft's "Understanding Declarative Provisioning Expressions"):

* ``[attribute]``, ``%Parameter%`` (``%Domain.FQDN%``), ``$variable`` (Select, Where, With)
* ``"strings"`` (``""`` and ``\\"`` for a quote, ``\\\\`` for a backslash), decimal numbers,
  ``&H`` hexadecimal numbers (64-bit: ``&H80000000`` is 2147483648)
* ``True``, ``False``, ``NULL``, ``CRLF``, ``AuthoritativeNull``, ``IgnoreThisFlow``
* ``Function(arg, ...)`` with case-sensitive names from :data:`.functions.FUNCTIONS`
* operators, loosest first: ``||``; ``&&``; ``= <> < <= > >=``; ``&``; ``+ - * /``.
  The arithmetic operators share one level and are read left to right, as Microsoft
  documents ("the * is not evaluated before -"); ``&&`` and ``||`` stop as soon as
  the result is known.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

from msgspec import Struct, field

from .functions import (AUTHORITATIVE_NULL, BINARY_OPERATORS, CONSTANTS, ENUM_NAMES, FUNCTIONS, IGNORE_THIS_FLOW,
                        EnumName, ExprTypeError, RefList, Special, as_list, display_value, op_neg, parse_hex,
                        truth, wrap_error)
from .budget import Budget, check_count
from .model import RuleError, RuleEvaluationError


def close_matches(word: str, possibilities: Any, n: int = 1) -> list[str]:
    """difflib's suggestions for a misspelt name (difflib is loaded only when a name is wrong)."""
    import difflib
    return difflib.get_close_matches(word, possibilities, n=n)


# Attributes that hold several values in Active Directory, the metaverse or Graph (lower case). A
# reference to one of them always yields a list; any other attribute yields its single value (or a
# list when it happens to hold more than one).
MULTI_VALUED = frozenset(a.lower() for a in (
    "proxyAddresses", "member", "memberOf", "objectClass", "otherTelephone", "otherMobile", "otherHomePhone",
    "otherFacsimileTelephoneNumber", "otherIpPhone", "otherPager", "url", "userCertificate",
    "userSMIMECertificate", "servicePrincipalName", "postOfficeBox", "msExchPoliciesExcluded",
    "showInAddressBook", "publicDelegates", "directReports", "seeAlso", "managedObjects", "otherMailbox",
    "msDS-KeyCredentialLink", "msExchExtensionCustomAttribute1", "msExchExtensionCustomAttribute2",
    "msExchExtensionCustomAttribute3", "msExchExtensionCustomAttribute4", "msExchExtensionCustomAttribute5",
    "businessPhones", "members", "imAddresses", "otherMails", "msRTCSIP-ApplicationOptions", "sIDHistory",
    "mSMQSignCertificates", "mSMQDigests", "msExchDelegateListLink", "authOrig", "unauthOrig", "dLMemSubmitPerms",
    "msExchBypassModerationLink", "msExchCoManagedByLink", "msExchModeratedByLink", "msExchResourceMetaData",
    "msExchSenderHintTranslations", "msExchArchiveGUID",
))
# Attributes holding references (DNs): Contains compares them whole.
REFERENCE = frozenset(a.lower() for a in (
    "member", "memberOf", "manager", "directReports", "seeAlso", "managedBy", "managedObjects", "secretary",
    "assistant", "members", "publicDelegates", "msExchDelegateListLink", "authOrig", "unauthOrig",
    "dLMemSubmitPerms", "msExchBypassModerationLink", "msExchCoManagedByLink", "msExchModeratedByLink",
))

# Parameters the Active Directory connector and the system provide (Microsoft's parameter table),
# plus Connector.Name, which pybridge adds.
KNOWN_PARAMETERS = frozenset({"Domain.Netbios", "Domain.FQDN", "Domain.LDAP", "Forest.Netbios", "Forest.FQDN",
                              "Forest.LDAP", "Connector.ID", "Connector.Name"})
_PARAM_ALIASES = {"Domain.FQDN": "domain_fqdn"}


class ExpressionSyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"position {position}: {message}")
        self.message = message
        self.position = position  # 1-based


# -- tokens ----------------------------------------------------------------------------------------

class Token(Struct, frozen=True):
    """One token of an expression, with its place in the text."""

    kind: str  # num str attr param var ident op ( ) , end
    text: str
    value: Any
    start: int  # 0-based offsets into the text
    end: int


_OPERATORS = ("&&", "||", "<>", "<=", ">=", "=", "<", ">", "&", "+", "-", "*", "/")
_IDENT_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | set("0123456789.")
_HEX = set("0123456789abcdefABCDEF")


_DIGITS = frozenset("0123456789")  # str.isdigit() also accepts '¹' and other digits int() refuses


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c == '"':
            out = []
            i += 1
            while True:
                if i >= n:
                    raise ExpressionSyntaxError("string not closed (missing \")", start + 1)
                ch = text[i]
                if ch == "\\" and i + 1 < n and text[i + 1] in '\\"':
                    out.append(text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        out.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                out.append(ch)
                i += 1
            toks.append(Token("str", text[start:i], "".join(out), start, i))
            continue
        if c in "\u201c\u201d":
            raise ExpressionSyntaxError("use straight quotes \" instead of typographic quotes", start + 1)
        if c == "[":
            j = text.find("]", i + 1)
            if j < 0:
                raise ExpressionSyntaxError("attribute reference not closed (missing ])", start + 1)
            name = text[i + 1:j].strip()
            if not name:
                raise ExpressionSyntaxError("empty attribute name []", start + 1)
            toks.append(Token("attr", text[start:j + 1], name, start, j + 1))
            i = j + 1
            continue
        if c == "%":
            j = text.find("%", i + 1)
            if j < 0:
                raise ExpressionSyntaxError("parameter not closed (missing %)", start + 1)
            name = text[i + 1:j].strip()
            if not name:
                raise ExpressionSyntaxError("empty parameter name %%", start + 1)
            toks.append(Token("param", text[start:j + 1], name, start, j + 1))
            i = j + 1
            continue
        if c == "&" and text[i + 1:i + 2] in ("H", "h") and i + 2 < n and text[i + 2] in _HEX:
            j = i + 2
            while j < n and text[j] in _HEX:
                j += 1
            # &HFF is a number; &HEADER is & followed by the name HEADER
            if not (j < n and text[j] in _IDENT_CHARS):
                if j - (i + 2) > 16:
                    raise ExpressionSyntaxError("hexadecimal number longer than 64 bits", start + 1)
                toks.append(Token("num", text[start:j], parse_hex(text[i + 2:j]), start, j))
                i = j
                continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            is_float = False
            if j < n and text[j] == "." and j + 1 < n and text[j + 1] in _DIGITS:
                is_float = True
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            if j - start > 40:
                raise ExpressionSyntaxError(f"number {text[start:start + 20]}... is too long", start + 1)
            if j < n and (text[j] in _IDENT_START):
                raise ExpressionSyntaxError(f"malformed number {text[start:j + 1]}", start + 1)
            raw = text[start:j]
            value: Any = float(raw) if is_float else int(raw)
            toks.append(Token("num", raw, value, start, j))
            i = j
            continue
        if c == "$":
            j = i + 1
            while j < n and text[j] in _IDENT_CHARS:
                j += 1
            if j == i + 1:
                raise ExpressionSyntaxError("$ must be followed by a variable name", start + 1)
            toks.append(Token("var", text[start:j], text[i + 1:j], start, j))
            i = j
            continue
        if c in _IDENT_START:
            j = i + 1
            while j < n and text[j] in _IDENT_CHARS:
                j += 1
            toks.append(Token("ident", text[start:j], text[start:j], start, j))
            i = j
            continue
        if c in "(),":
            toks.append(Token(c, c, c, start, i + 1))
            i += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                toks.append(Token("op", op, op, start, i + len(op)))
                i += len(op)
                break
        else:
            raise ExpressionSyntaxError(f"unexpected character {c!r}", start + 1)
    toks.append(Token("end", "", None, n, n))
    return toks


# -- AST -------------------------------------------------------------------------------------------

class Node(Struct):
    """A node of the expression tree, with the span of text it was parsed from."""

    start: int
    end: int


class Literal(Node):
    """A constant: a string, a number, a named constant or an enum name."""

    value: Any


class Attr(Node):
    """[attribute]: the value(s) of a source attribute."""

    name: str


class Param(Node):
    """%parameter%: a value of the run (the domain's names...) or of the rule files."""

    name: str


class Var(Node):
    """A variable bound by Select, Where or With."""

    name: str


class Call(Node):
    """A function call."""

    name: str
    args: list[Node] = field(default_factory=list)


class Binary(Node):
    """A binary operator and its operands."""

    op: str
    left: Node
    right: Node


class Negate(Node):
    """Unary minus."""

    operand: Node


_LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("=", "<>", "<", "<=", ">", ">="), ("&",),
                                        ("+", "-", "*", "/"))
_BINDING = {"Select", "Where", "With"}


class Parser:
    def __init__(self, text: str, parameters: frozenset[str] | set[str] | None = None) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.parameters = parameters  # None: any %name% accepted
        self.bound: list[str] = []

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def error(self, message: str, tok: Token | None = None) -> ExpressionSyntaxError:
        t = tok or self.tok
        return ExpressionSyntaxError(message, t.start + 1)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("the expression is empty")
        node = self.level(0)
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.describe(self.tok)} after a complete expression")
        return node

    @staticmethod
    def describe(t: Token) -> str:
        if t.kind == "end":
            return "end of expression"
        return f"'{t.text}'"

    def level(self, k: int) -> Node:
        if k == len(_LEVELS):
            return self.unary()
        node = self.level(k + 1)
        ops = _LEVELS[k]
        while self.tok.kind == "op" and self.tok.value in ops:
            op = self.tok.value
            self.i += 1
            right = self.level(k + 1)
            node = Binary(node.start, right.end, op, node, right)
        return node

    def unary(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.value == "-":
            self.i += 1
            operand = self.unary()
            return Negate(t.start, operand.end, operand)
        if t.kind == "op" and t.value == "+":
            self.i += 1
            return self.unary()
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind in ("num", "str"):
            self.i += 1
            return Literal(t.start, t.end, t.value)
        if t.kind == "attr":
            self.i += 1
            return Attr(t.start, t.end, t.value)
        if t.kind == "param":
            self.i += 1
            if self.parameters is not None and t.value not in self.parameters:
                known = sorted(self.parameters)
                near = close_matches(t.value, known, n=1)
                hint = f" (did you mean %{near[0]}%?)" if near else f" (known: {', '.join(known)})"
                raise self.error(f"unknown parameter %{t.value}%{hint}", t)
            return Param(t.start, t.end, t.value)
        if t.kind == "var":
            self.i += 1
            if t.value not in self.bound:
                raise self.error(f"${t.value} is not bound here (variables are bound by Select, Where and With)", t)
            return Var(t.start, t.end, t.value)
        if t.kind == "(":
            self.i += 1
            node = self.level(0)
            if self.tok.kind != ")":
                raise self.error(f"expected ')' to close the '(' at position {t.start + 1}, found "
                                 f"{self.describe(self.tok)}")
            end = self.tok.end
            self.i += 1
            node.start, node.end = t.start, end
            return node
        if t.kind == "ident":
            self.i += 1
            if self.tok.kind == "(":
                return self.call(t)
            if t.value in CONSTANTS:
                return Literal(t.start, t.end, CONSTANTS[t.value])
            if t.value in ENUM_NAMES:
                return Literal(t.start, t.end, EnumName(t.value))
            if t.value in FUNCTIONS:
                raise self.error(f"{t.value} is a function: write {t.value}(...)", t)
            raise self.error(self.unknown_name(t.value), t)
        if t.kind == "end":
            raise self.error("the expression ends too early")
        raise self.error(f"unexpected {self.describe(t)}")

    @staticmethod
    def unknown_name(name: str) -> str:
        names = list(CONSTANTS) + sorted(ENUM_NAMES)
        for n in names + list(FUNCTIONS):
            if n.lower() == name.lower():
                return f"unknown name '{name}' (names are case-sensitive: did you mean '{n}'?)"
        near = close_matches(name, names, n=1)
        if near:
            return f"unknown name '{name}' (did you mean '{near[0]}'?)"
        return (f"unknown name '{name}' (attributes are written [{name}], parameters %{name}%, "
                "strings \"...\")")

    def call(self, name_tok: Token) -> Node:
        name = name_tok.value
        spec = FUNCTIONS.get(name)
        if spec is None:
            hint = ""
            for fname in FUNCTIONS:
                if fname.lower() == name.lower():
                    hint = f" (names are case-sensitive: did you mean '{fname}'?)"
                    break
            else:
                near = close_matches(name, list(FUNCTIONS), n=1)
                if near:
                    hint = f" (did you mean '{near[0]}'?)"
            raise self.error(f"unknown function '{name}'{hint}", name_tok)
        self.i += 1  # (
        args: list[Node] = []
        pushed = 0
        if self.tok.kind != ")":
            while True:
                if name in _BINDING and not args:
                    if self.tok.kind != "var":
                        raise self.error(f"{name}'s first argument must be a $variable")
                    vt = self.tok
                    self.i += 1
                    args.append(Var(vt.start, vt.end, vt.value))
                else:
                    # Select/Where bind their variable for the third argument, With for the third too
                    if name in _BINDING and len(args) == 2:
                        self.bound.append(args[0].name)  # type: ignore[attr-defined]
                        pushed += 1
                    args.append(self.level(0))
                if self.tok.kind == ",":
                    self.i += 1
                    continue
                break
        if self.tok.kind != ")":
            raise self.error(f"expected ',' or ')' in the arguments of {name}, found {self.describe(self.tok)}")
        end = self.tok.end
        self.i += 1
        for _ in range(pushed):
            self.bound.pop()
        n = len(args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            if spec.max_args is None:
                want = f"at least {spec.min_args}"
            elif spec.min_args == spec.max_args:
                want = str(spec.min_args)
            else:
                want = f"{spec.min_args} to {spec.max_args}"
            plural = "" if want == "1" else "s"
            raise self.error(f"{name} takes {want} argument{plural}, not {n}", name_tok)
        if name == "Switch" and n % 2:
            raise self.error("Switch takes condition/value pairs: the number of arguments must be even", name_tok)
        if name == "ImportedValue" and not (isinstance(args[0], Literal) and isinstance(args[0].value, str)):
            raise self.error("ImportedValue takes the attribute name in quotes: ImportedValue(\"proxyAddresses\")",
                             name_tok)
        return Call(name_tok.start, end, name, args)


def parse(text: str, parameters: frozenset[str] | set[str] | None = None) -> Node:
    return Parser(text, parameters).parse()


# -- evaluation environment ------------------------------------------------------------------------

class Env:
    """What an expression reads: the source attributes (keys lower-cased), parameters, variables; and what the
    evaluation has spent of its :class:`~.budget.Budget` (one per Env: per object and direction)."""

    __slots__ = ("attrs", "ctx", "params", "vars", "budget")

    def __init__(self, attrs: dict[str, list], ctx: dict[str, Any], params: dict[str, Any] | None = None) -> None:
        self.attrs = attrs
        self.ctx = ctx
        self.params = params or {}
        self.vars: dict[str, Any] = {}
        self.budget = Budget()

    @classmethod
    def build(cls, source: dict[str, Any], ctx: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> "Env":
        ctx = ctx or {}
        attrs: dict[str, list] = {}
        for k, v in source.items():
            if v is None:
                continue
            attrs[k.lower()] = v if isinstance(v, list) else [v]
        if "dn" not in attrs:
            dn = attrs.get("distinguishedname") or ([ctx["dn"]] if ctx.get("dn") else None)
            if dn:
                attrs["dn"] = dn
        return cls(attrs, ctx, params)


def _ldap_from_fqdn(fqdn: Any) -> str | None:
    if not fqdn:
        return None
    return ",".join(f"DC={p}" for p in str(fqdn).split(".") if p)


def _param_fn(name: str) -> Callable[[Env], Any]:
    alias = _PARAM_ALIASES.get(name)
    derive = None
    if name in ("Domain.LDAP", "Forest.LDAP"):
        source = name.split(".")[0] + ".FQDN"
        derive = lambda env: _ldap_from_fqdn(env.ctx.get(source) or env.params.get(source))  # noqa: E731

    def f(env: Env) -> Any:
        v = env.ctx.get(name)
        if v is None:
            v = env.params.get(name)
            if v is None and alias is not None:
                v = env.ctx.get(alias)
            if v is None and derive is not None:
                v = derive(env)
        return v
    return f


def _constant_fn(value: Any) -> Callable[[Env], Any]:
    """The compiled form of a Constant flow: its value, whatever the object."""
    def constant(env: Env) -> Any:
        return value
    return constant


def _attr_fn(name: str) -> Callable[[Env], Any]:
    key = name.lower()
    if key in REFERENCE and key in MULTI_VALUED:
        def f_ref(env: Env) -> Any:
            v = env.attrs.get(key)
            return RefList(v) if v else None
        return f_ref
    if key in MULTI_VALUED:
        def f_mv(env: Env) -> Any:
            return env.attrs.get(key) or None
        return f_mv

    def f(env: Env) -> Any:
        v = env.attrs.get(key)
        if not v:
            return None
        if len(v) == 1:
            return v[0]
        return v
    return f


# -- broadcasting over multi-valued values ---------------------------------------------------------

def _collect(out: list, r: Any) -> None:
    if r is None:
        return
    if isinstance(r, list):
        out.extend(x for x in r if x is not None)
    else:
        out.append(r)


def _map_args(impl: Callable[..., Any], args: list[Any], scalar: tuple[bool, ...],
              budget: Budget | None = None) -> Any:
    """Apply *impl* per value where multi-valued values meet scalar positions (lists of one length zip)."""
    lists = [i for i, a in enumerate(args) if scalar[i] and isinstance(a, list)]
    n = len(args[lists[0]])
    for i in lists[1:]:
        if len(args[i]) != n:
            raise ExprTypeError(f"multi-valued arguments of different lengths ({n} and {len(args[i])})")
    if budget is not None:
        budget.spend(n)
    out: list = []
    call = list(args)
    for j in range(n):
        for i in lists:
            call[i] = args[i][j]
        r = impl(*call)
        if budget is not None:
            budget.charge(r)  # value by value: a thousand values of a megabyte each stop at the budget
        _collect(out, r)
    check_count(len(out))
    if not out:
        return None
    return RefList(out) if isinstance(args[lists[0]], RefList) else out


def broadcast2(op: Callable[[Any, Any], Any], a: Any, b: Any, budget: Budget | None = None) -> Any:
    la, lb = isinstance(a, list), isinstance(b, list)
    if not la and not lb:
        return op(a, b)
    if la and lb:
        if len(a) != len(b):
            raise ExprTypeError(f"multi-valued operands of different lengths ({len(a)} and {len(b)})")
        pairs: Iterable[tuple[Any, Any]] = zip(a, b)
    elif la:
        pairs = ((x, b) for x in a)
    else:
        pairs = ((a, y) for y in b)
    if budget is not None:
        budget.spend(max(len(a) if la else 0, len(b) if lb else 0))
    out: list = []
    for x, y in pairs:
        r = op(x, y)
        if budget is not None:
            budget.charge(r)
        _collect(out, r)
    return out or None


# -- compiler --------------------------------------------------------------------------------------

Fn = Callable[[Env], Any]


def _const(v: Any) -> Fn:
    return lambda env: v


class Compiler:
    def __init__(self, text: str) -> None:
        self.text = text

    def compile(self, node: Node) -> Fn:
        node = self.fold(node)
        return self.emit(node)

    # constant folding: pure functions and operators over literals are computed once, at load
    def fold(self, node: Node) -> Node:
        if isinstance(node, Call):
            node.args = [self.fold(a) for a in node.args]
            spec = FUNCTIONS[node.name]
            if spec.impl is not None and spec.pure and all(isinstance(a, Literal) for a in node.args):
                try:
                    value = self.emit(node)(Env({}, {}))
                except Exception:
                    return node  # leave it for run time: it may sit in a branch never taken
                if not isinstance(value, list):
                    return Literal(node.start, node.end, value)
            if node.name == "IIF" and isinstance(node.args[0], Literal):
                try:
                    chosen = node.args[1] if truth(node.args[0].value) else node.args[2]
                except ExprTypeError:
                    return node
                return chosen
            return node
        if isinstance(node, Binary):
            node.left, node.right = self.fold(node.left), self.fold(node.right)
            if isinstance(node.left, Literal) and isinstance(node.right, Literal) and node.op in BINARY_OPERATORS:
                try:
                    value = BINARY_OPERATORS[node.op](node.left.value, node.right.value)
                except Exception:
                    return node
                return Literal(node.start, node.end, value)
            return node
        if isinstance(node, Negate):
            node.operand = self.fold(node.operand)
            if isinstance(node.operand, Literal):
                try:
                    return Literal(node.start, node.end, op_neg(node.operand.value))
                except Exception:
                    return node
            return node
        return node

    def emit(self, node: Node) -> Fn:
        if isinstance(node, Literal):
            return _const(node.value)
        if isinstance(node, Attr):
            return _attr_fn(node.name)
        if isinstance(node, Param):
            return _param_fn(node.name)
        if isinstance(node, Var):
            name = node.name

            def var(env: Env) -> Any:
                return env.vars.get(name)
            return var
        if isinstance(node, Negate):
            inner = self.emit(node.operand)
            pos = node.start + 1

            def neg(env: Env) -> Any:
                v = inner(env)
                try:
                    if isinstance(v, list):
                        return [op_neg(x) for x in v]
                    return op_neg(v)
                except Exception as e:
                    raise wrap_error("-", pos, e) from e
            return neg
        if isinstance(node, Binary):
            return self.emit_binary(node)
        if isinstance(node, Call):
            return self.emit_call(node)
        raise AssertionError(node)

    def emit_binary(self, node: Binary) -> Fn:
        left, right = self.emit(node.left), self.emit(node.right)
        op = node.op
        pos = node.start + 1
        if op == "&&":
            def and_(env: Env) -> Any:
                a = left(env)
                if isinstance(a, list):
                    return broadcast2(lambda x, y: truth(x) and truth(y), a, right(env), env.budget)
                if not truth(a):
                    return False
                b = right(env)
                if isinstance(b, list):
                    return broadcast2(lambda x, y: truth(x) and truth(y), a, b, env.budget)
                return truth(b)
            return _guard(and_, "&&", pos)
        if op == "||":
            def or_(env: Env) -> Any:
                a = left(env)
                if isinstance(a, list):
                    return broadcast2(lambda x, y: truth(x) or truth(y), a, right(env), env.budget)
                if truth(a):
                    return True
                b = right(env)
                if isinstance(b, list):
                    return broadcast2(lambda x, y: truth(x) or truth(y), a, b, env.budget)
                return truth(b)
            return _guard(or_, "||", pos)
        fn = BINARY_OPERATORS[op]

        def binary(env: Env) -> Any:
            a, b = left(env), right(env)
            if isinstance(a, list) or isinstance(b, list):
                return broadcast2(fn, a, b, env.budget)
            return fn(a, b)
        return _guard(binary, op, pos)

    def emit_call(self, node: Call) -> Fn:
        name = node.name
        pos = node.start + 1
        args = [self.emit(a) for a in node.args]
        special: Callable[[Call, list[Fn]], Fn] | None = getattr(self, "emit_" + name, None)
        if special is not None:
            return special(node, args)
        spec = FUNCTIONS[name]
        impl = spec.impl
        assert impl is not None
        scalar = tuple(spec.scalar_at(i) for i in range(len(args)))
        n = len(args)
        if n == 0:
            return _guard(lambda env: impl(), name, pos)
        if n == 1:
            a0 = args[0]
            if scalar[0]:
                def call1(env: Env) -> Any:
                    x = a0(env)
                    if isinstance(x, list):
                        return _map_args(impl, [x], scalar, env.budget)
                    return impl(x)
            else:
                def call1(env: Env) -> Any:
                    return impl(a0(env))
            return _guard(call1, name, pos)
        if n == 2:
            a0, a1 = args
            s0, s1 = scalar

            def call2(env: Env) -> Any:
                x, y = a0(env), a1(env)
                if (s0 and isinstance(x, list)) or (s1 and isinstance(y, list)):
                    return _map_args(impl, [x, y], scalar, env.budget)
                return impl(x, y)
            return _guard(call2, name, pos)
        any_scalar = any(scalar)

        def calln(env: Env) -> Any:
            vals = [a(env) for a in args]
            if any_scalar:
                for i, v in enumerate(vals):
                    if scalar[i] and isinstance(v, list):
                        return _map_args(impl, vals, scalar, env.budget)
            return impl(*vals)
        return _guard(calln, name, pos)

    # program flow ------------------------------------------------------------------------------
    def emit_IIF(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        cond, if_true, if_false = args

        def iif(env: Env) -> Any:
            c = cond(env)
            if isinstance(c, list):  # per value: IIF(InStr([proxyAddresses],"SIP:")=1,NULL,[proxyAddresses])
                flags = [truth(x) for x in c]
                t = if_true(env) if any(flags) else None
                f = if_false(env) if not all(flags) else None
                out: list = []
                for i, flag in enumerate(flags):
                    src = t if flag else f
                    if isinstance(src, list):
                        if len(src) != len(flags):
                            raise ExprTypeError("IIF over a multi-valued condition needs values of the same count")
                        _collect(out, src[i])
                    else:
                        _collect(out, src)
                return out or None
            return if_true(env) if truth(c) else if_false(env)
        return _guard(iif, "IIF", node.start + 1, charge=False)

    def emit_Switch(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        pairs = [(args[i], args[i + 1]) for i in range(0, len(args), 2)]

        def switch(env: Env) -> Any:
            for cond, value in pairs:
                if truth(cond(env)):
                    return value(env)
            return None
        return _guard(switch, "Switch", node.start + 1, charge=False)

    def emit_Error(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        from .functions import f_error
        msg = args[0]
        return _guard(lambda env: f_error(msg(env)), "Error", node.start + 1)

    def emit_ImportedValue(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        attr = node.args[0].value  # type: ignore[attr-defined]
        from_source = _attr_fn(attr)
        key = attr.lower()

        def imported(env: Env) -> Any:
            store = env.ctx.get("imported")
            if store is None:
                return from_source(env)  # pybridge reads the object live: what it read is what was imported
            values = None
            for k, v in store.items():
                if k.lower() == key:
                    values = v
                    break
            if values is None or values == []:
                return None
            if not isinstance(values, list):
                return values
            if key in MULTI_VALUED:
                return RefList(values) if key in REFERENCE else list(values)
            return values[0] if len(values) == 1 else list(values)
        return imported

    def _binding(self, node: Call, args: list[Fn], kind: str) -> Fn:
        var = node.args[0].name  # type: ignore[attr-defined]
        coll, body = args[1], args[2]

        def run(env: Env) -> Any:
            if kind == "With":
                value = coll(env)
                saved = env.vars.get(var, _UNSET)
                env.vars[var] = value
                try:
                    return body(env)
                finally:
                    _restore(env, var, saved)
            items = as_list(coll(env))
            if not items:
                return None
            saved = env.vars.get(var, _UNSET)
            out: list = []
            try:
                for item in items:
                    env.vars[var] = item
                    r = body(env)
                    if kind == "Where":
                        if truth(r):
                            out.append(item)
                    else:
                        _collect(out, r)
            finally:
                _restore(env, var, saved)
            return out or None
        return _guard(run, kind, node.start + 1, charge=kind != "With")

    def emit_Select(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        return self._binding(node, args, "Select")

    def emit_Where(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        return self._binding(node, args, "Where")

    def emit_With(self, node: Call, args: list[Fn]) -> Fn:  # noqa: N802
        return self._binding(node, args, "With")


_UNSET = object()


def _restore(env: Env, var: str, saved: Any) -> None:
    if saved is _UNSET:
        env.vars.pop(var, None)
    else:
        env.vars[var] = saved


def _guard(fn: Fn, name: str, pos: int, charge: bool = True) -> Fn:
    """Count *fn* against the evaluation's budget (with *charge*, the value it produces too: IIF, Switch and
    With only pass on a value produced and counted inside them), and turn any failure inside it into a
    RuleEvaluationError naming the function and position."""
    def guarded(env: Env) -> Any:
        try:
            budget = env.budget
            budget.operations += 1
            if budget.operations > budget.max_operations:
                budget.spend(0)  # raises, with the message
            value = fn(env)
            if charge and value is not None:
                t = type(value)
                if t is str:  # the common case, inline: most values are short texts
                    budget.produced += len(value)
                    if len(value) > budget.max_length or budget.produced > budget.max_produced:
                        budget.produced -= len(value)
                        budget.charge(value)  # raises, with the message
                elif t is not bool and t is not int and t is not float:
                    budget.charge(value)
            return value
        except RuleEvaluationError:
            raise
        except Exception as e:
            raise wrap_error(name, pos, e) from e
    return guarded


# -- public API ------------------------------------------------------------------------------------

MAX_EXPRESSION_LENGTH = 20_000


class CompiledExpression:
    """An expression compiled once; call it with (attributes, ctx) or evaluate it in an :class:`Env`."""

    __slots__ = ("text", "ast", "fn", "attributes", "_operands")

    def __init__(self, text: str, parameters: frozenset[str] | set[str] | None = None) -> None:
        self.text = text
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise ExpressionSyntaxError(f"the expression is {len(text)} characters long; at most "
                                        f"{MAX_EXPRESSION_LENGTH} are accepted", 1)
        try:
            self.ast = parse(text, parameters)
            self.attributes = sorted({n.name for n in walk(self.ast) if isinstance(n, Attr)}, key=str.lower)
            self.fn = Compiler(text).compile(self._copy_ast())
        except RecursionError:
            # the parser and the compiler recurse on nesting; a rule this deep is a mistake, not a sync rule
            raise ExpressionSyntaxError("the expression is nested too deeply", 1) from None
        self._operands: list[tuple[Node, Fn]] | None = None

    @classmethod
    def validated(cls, text: str, attributes: Sequence[str]) -> "CompiledExpression":
        """An expression that compiled before (kept by a rules cache, with the attributes it reads): parsed and
        compiled only when a sync first evaluates it, so loading many rules costs nothing for those unused."""
        self = cls.__new__(cls)
        self.text = text
        self.attributes = list(attributes)
        self._operands = None
        return self

    def __getattr__(self, name: str) -> Any:
        # reached only for a slot not set yet: the ast and fn of a validated() expression, made on first use
        if name == "fn":  # compiling folds the tree it is given: a tree of its own, parsed for it
            self.fn = Compiler(self.text).compile(parse(self.text, None))
        elif name == "ast":  # the tree as written, only for explanations
            self.ast = parse(self.text, None)
        else:
            raise AttributeError(name)
        return getattr(self, name)

    def _copy_ast(self) -> Node:
        return parse(self.text, None)  # folding rewrites nodes; keep self.ast as written for explanations

    def __call__(self, attrs: dict[str, Any], ctx: dict[str, Any] | None = None,
                 params: dict[str, Any] | None = None) -> Any:
        return self.fn(Env.build(attrs, ctx, params))

    def evaluate(self, env: Env) -> Any:
        return self.fn(env)

    def explain_true(self, env: Env) -> str | None:
        """For IIF(a || b || ..., x, y): the source text of the first of a, b, ... that holds, with the values
        of the attributes it reads. Used to say why cloudFiltered is True."""
        if self._operands is None:
            root = self.ast
            ops: list[Node] = []
            if isinstance(root, Call) and root.name == "IIF":
                _flatten_or(root.args[0], ops)
            else:
                _flatten_or(root, ops)
            self._operands = [(n, Compiler(self.text).emit(n)) for n in ops]
        for node, fn in self._operands:
            try:
                if truth(fn(env)):
                    return self.describe(node, env)
            except Exception:
                continue
        return None

    def describe(self, node: Node, env: Env) -> str:
        text = " ".join(self.text[node.start:node.end].split())
        while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            text = text[1:-1].strip()
        seen: list[str] = []
        for n in walk(node):
            if isinstance(n, Attr) and n.name not in seen:
                seen.append(n.name)
        values = []
        for name in seen:
            v = _attr_fn(name)(env)
            values.append(f"{name} = {explained_value(v)}")
        return text + (f" ({'; '.join(values)})" if values else "")


#: An explanation lists at most this many values of a multi-valued attribute (a group of 250,000 members
#: filtered by Count([member]) would otherwise put every member's DN into the run's Reason).
EXPLAIN_MAX_VALUES = 5


def explained_value(v: Any) -> str:
    if isinstance(v, list) and len(v) > EXPLAIN_MAX_VALUES:
        shown = ", ".join(display_value(x) for x in v[:EXPLAIN_MAX_VALUES - 2])
        return f"[{shown}, ... ({len(v)} values)]"
    return display_value(v)


def _balanced(s: str) -> bool:
    depth, in_str = 0, False
    for c in s:
        if c == '"':
            in_str = not in_str
        elif not in_str:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth < 0:
                    return False
    return depth == 0


def _flatten_or(node: Node, out: list[Node]) -> None:
    if isinstance(node, Binary) and node.op == "||":
        _flatten_or(node.left, out)
        _flatten_or(node.right, out)
    else:
        out.append(node)


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Call):
        for a in node.args:
            yield from walk(a)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Negate):
        yield from walk(node.operand)


def compile_expression(text: str, parameters: frozenset[str] | set[str] | None = None) -> CompiledExpression:
    """Compile *text*; the result is called as ``fn(attributes, ctx)``. Raises RuleError on any syntax problem.

    *parameters*: the %names% allowed (None accepts any, for ``pybridge rules test``).
    """
    try:
        return CompiledExpression(text, parameters)
    except ExpressionSyntaxError as e:
        raise RuleError(f"expression {e}: {_excerpt(text, e.position)}",
                        problems=[f"{e}: {_excerpt(text, e.position)}"]) from None


def _excerpt(text: str, position: int) -> str:
    """The text around a 1-based position, with a marker: 'IIF(Trimm>>>([x])'."""
    i = max(0, min(len(text), position - 1))
    before, after = text[max(0, i - 30):i], text[i:i + 30]
    return f"{'...' if i > 30 else ''}{before}\u25b6{after}{'...' if i + 30 < len(text) else ''}"


__all__ = ["AUTHORITATIVE_NULL", "IGNORE_THIS_FLOW", "CompiledExpression", "Env", "ExpressionSyntaxError",
           "KNOWN_PARAMETERS", "MULTI_VALUED", "REFERENCE", "Special", "compile_expression", "parse", "tokenize"]
