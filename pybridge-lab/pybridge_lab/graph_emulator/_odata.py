"""The OData pieces of Microsoft Graph that a sync engine uses: errors, $filter, $select.

$filter grammar (basic directory queries, https://learn.microsoft.com/graph/filter-query-parameter
and https://learn.microsoft.com/graph/aad-advanced-queries):
    expr    := and_expr ("or" and_expr)*
    and_expr:= primary ("and" primary)*
    primary := "(" expr ")" | prop "eq" literal | startswith(prop, 'text')
             | prop "/any(" var ":" (var "eq" 'text' | startswith(var, 'text')) ")"
    unary   := "not" unary | primary
    primary also: prop "ne" literal | prop "in" "(" literal ("," literal)* ")" | endswith(...)
Operators that Graph allows only as advanced queries (ne, not, endsWith, eq/ne null, eq on the
properties the tables mark "requires advanced query parameters") are noted by the parser; the
collection handler refuses them with Request_UnsupportedQuery unless ConsistencyLevel: eventual
and $count=true are sent. ge/le/gt/lt are not modelled (refused as unsupported). String
comparisons ignore case, as the directory does for these properties.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from ._schema import BOOL, OBJLIST, STR, STRLIST, EntitySchema


class GraphError(Exception):
    """An error answer in Graph's shape; raised anywhere in request handling."""

    def __init__(self, status: int, code: str, message: str, *,
                 details: list[dict] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, code: str = "Request_BadRequest", **kw: Any) -> GraphError:
    return GraphError(400, code, message, **kw)


def unsupported_query(message: str = "Unsupported Query.") -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def not_found(key: str) -> GraphError:
    # Graph's wording for a directory object that is not there.
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried "
                      "reference-property objects are not present.")


def invalid_value(prop: str, schema: EntitySchema) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource "
                       f"'{schema.resource}'.")


def no_such_property(name: str, schema: EntitySchema) -> GraphError:
    return GraphError(400, "BadRequest", f"Could not find a property named '{name}' on type "
                                         f"'microsoft.graph.{schema.name}'.")


# ---------------------------------------------------------------------------- $filter

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<punct>[(),:/])
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)


@dataclass
class _Tok:
    kind: str   # str, punct, num, ident, end
    value: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _syntax(text, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


def _syntax(text: str, pos: int) -> GraphError:
    return GraphError(400, "BadRequest",
                      f"Invalid filter clause: Syntax error at position {pos} in '{text}'.")


Predicate = Callable[[dict], bool]
MAX_OR_CLAUSES = 15


def _fold(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


class _FilterParser:
    """A $filter expression -> a predicate, noting whether it needs advanced query parameters.

    aad-advanced-queries: "The not and ne negation operators are supported only with advanced
    queries", "The endsWith operator is supported only with advanced queries on mail and
    userPrincipalName properties", "The in operator is supported by default whenever eq operator
    is supported by default", and per property whether eq/startsWith work by default, need
    advanced query parameters, or are not supported at all.
    """

    def __init__(self, text: str, schema: EntitySchema, extra: dict[str, str]) -> None:
        self.text = text
        self.schema = schema
        self.extra = extra          # directory extension properties -> kind
        self.toks = _tokenize(text)
        self.i = 0
        self.advanced = False       # set when any part needs advanced query parameters

    # -- token helpers
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value.lower() != value):
            raise _syntax(self.text, tok.pos)
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "ident" and tok.value.lower() == word

    # -- grammar
    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek().kind != "end":
            raise _syntax(self.text, self.peek().pos)
        return pred

    def expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.is_word("or"):
            self.take()
            parts.append(self.and_expr())
        if len(parts) > MAX_OR_CLAUSES:
            # Directory queries take at most 15 clauses under one "or"; Graph's answer, as publicly reported
            # (no Microsoft page read for this emulator states the limit).
            raise unsupported_query("Too many child clauses specified in search filter expression containing "
                                    f"'OR' operators: {len(parts)}. Max allowed: {MAX_OR_CLAUSES}.")
        return parts[0] if len(parts) == 1 else (lambda o, ps=parts: any(p(o) for p in ps))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.is_word("and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda o, ps=parts: all(p(o) for p in ps))

    def unary(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            self.advanced = True
            inner = self.unary()
            return lambda o: not inner(o)
        return self.primary()

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok.kind == "punct" and tok.value == "(":
            self.take()
            pred = self.expr()
            self.expect("punct", ")")
            return pred
        if tok.kind != "ident":
            raise _syntax(self.text, tok.pos)
        nxt = self.toks[self.i + 1]
        if nxt.kind == "punct" and nxt.value == "(":
            return self.function()
        prop = self.prop(self.take())
        if self.peek().kind == "punct" and self.peek().value == "/":
            return self.lambda_any(prop)
        op = self.expect("ident")
        return self.comparison(prop, op)

    def prop(self, tok: _Tok) -> str:
        name = canonical(self.schema, tok.value, self.extra)
        if name is None:
            raise no_such_property(tok.value, self.schema)
        return name

    def kind_of(self, prop: str) -> str:
        return self.schema.props.get(prop) or self.extra[prop]

    def unsupported(self, prop: str) -> GraphError:
        return unsupported_query(f"Unsupported or invalid query filter clause specified for "
                                 f"property '{prop}' of resource '{self.schema.resource}'.")

    def filterable(self, prop: str) -> None:
        """eq (and what goes with it) on *prop*: by default, as an advanced query, or not at all.
        Directory extension properties are "filterable" (Add custom data to resources using
        extensions, "Directory (Microsoft Entra ID) extensions"); their eq works by default."""
        if prop in self.schema.filter_eq or prop in self.extra:
            return
        if prop in self.schema.filter_advanced:
            self.advanced = True
            return
        raise self.unsupported(prop)

    def literal(self) -> tuple[str, Any]:
        tok = self.take()
        if tok.kind == "str":
            return STR, tok.value[1:-1].replace("''", "'")
        if tok.kind == "ident" and tok.value.lower() in ("true", "false"):
            return BOOL, tok.value.lower() == "true"
        if tok.kind == "ident" and tok.value.lower() == "null":
            return "null", None
        if tok.kind == "num":
            return "num", tok.value
        raise _syntax(self.text, tok.pos)

    def typed(self, prop: str, kind: str) -> None:
        pkind = self.kind_of(prop)
        if kind != pkind:
            edm = {STR: "Edm.String", BOOL: "Edm.Boolean", "num": "Edm.Int32"}
            raise GraphError(400, "BadRequest",
                             "A binary operator with incompatible types was detected. Found "
                             f"operand types '{edm.get(pkind, 'Collection(Edm.String)')}' and "
                             f"'{edm[kind]}' for operator kind 'Equal'.")

    def comparison(self, prop: str, op: _Tok) -> Predicate:
        opname = op.value.lower()
        if opname not in ("eq", "ne", "gt", "ge", "lt", "le", "in"):
            raise _syntax(self.text, op.pos)
        if opname == "in":
            return self.in_list(prop)
        kind, value = self.literal()
        if opname not in ("eq", "ne") or self.kind_of(prop) in (STRLIST, OBJLIST):
            raise self.unsupported(prop)
        self.filterable(prop)
        if opname == "ne" or kind == "null":
            self.advanced = True   # ne, and eq/ne null: advanced queries only
        if kind == "null":
            test: Callable[[dict], bool] = lambda o: o.get(prop) in (None, "")
        else:
            self.typed(prop, kind)
            want = _fold(value)
            test = lambda o: _fold(o.get(prop)) == want
        return test if opname == "eq" else (lambda o: not test(o))

    def in_list(self, prop: str) -> Predicate:
        self.filterable(prop)
        self.expect("punct", "(")
        wanted = []
        while True:
            kind, value = self.literal()
            self.typed(prop, kind)
            wanted.append(_fold(value))
            if self.peek().kind == "punct" and self.peek().value == ",":
                self.take()
                continue
            self.expect("punct", ")")
            break
        return lambda o: _fold(o.get(prop)) in wanted

    def function(self) -> Predicate:
        name = self.take()
        fname = name.value.lower()
        if fname not in ("startswith", "endswith"):
            raise unsupported_query()
        self.expect("punct", "(")
        prop = self.prop(self.expect("ident"))
        self.expect("punct", ",")
        kind, value = self.literal()
        self.expect("punct", ")")
        if self.kind_of(prop) != STR or kind != STR or prop == "id":
            raise self.unsupported(prop)
        text = value.casefold()
        if fname == "endswith":
            if prop not in self.schema.filter_endswith:
                raise self.unsupported(prop)
            self.advanced = True
            return lambda o: isinstance(o.get(prop), str) and o[prop].casefold().endswith(text)
        self.filterable(prop)
        return lambda o: isinstance(o.get(prop), str) and o[prop].casefold().startswith(text)

    def lambda_any(self, prop: str) -> Predicate:
        self.expect("punct", "/")
        fn = self.expect("ident")
        if fn.value.lower() != "any":
            raise self.unsupported(prop)
        if prop not in self.schema.filter_any or self.schema.props[prop] != STRLIST:
            raise self.unsupported(prop)
        self.expect("punct", "(")
        var = self.expect("ident").value
        self.expect("punct", ":")
        tok = self.peek()
        if tok.kind == "ident" and tok.value.lower() in ("startswith", "endswith"):
            fname = self.take().value.lower()
            self.expect("punct", "(")
            if self.expect("ident").value != var:
                raise _syntax(self.text, tok.pos)
            self.expect("punct", ",")
            kind, value = self.literal()
            self.expect("punct", ")")
            if kind != STR:
                raise self.unsupported(prop)
            text = value.casefold()
            if fname == "endswith":
                # proxyAddresses "Supports $filter (eq, not, ge, le, startsWith, endsWith ...)"
                # (user resource); endsWith is an advanced query.
                self.advanced = True
                test: Callable[[str], bool] = lambda s: s.casefold().endswith(text)
            else:
                test = lambda s: s.casefold().startswith(text)
        else:
            if self.expect("ident").value != var:
                raise _syntax(self.text, tok.pos)
            op = self.expect("ident")
            if op.value.lower() != "eq":
                raise self.unsupported(prop)
            kind, value = self.literal()
            if kind != STR:
                raise self.unsupported(prop)
            want = value.casefold()
            test = lambda s: s.casefold() == want
        self.expect("punct", ")")
        return lambda o: any(isinstance(s, str) and test(s) for s in (o.get(prop) or []))


def canonical(schema: EntitySchema, name: str, extra: dict[str, str] | None = None) -> str | None:
    """A declared (or registered extension) property's name as Graph spells it; names in query
    options are case-insensitive."""
    found = schema.canonical(name)
    if found is not None or not extra:
        return found
    low = name.lower()
    return next((p for p in extra if p.lower() == low), None)


def parse_filter(text: str, schema: EntitySchema,
                 extra: dict[str, str] | None = None) -> tuple[Predicate, bool]:
    """The predicate of a $filter, and whether it needs advanced query parameters."""
    if not text.strip():
        raise GraphError(400, "BadRequest", "Invalid filter clause: The query specified in the "
                                            "URI is not valid.")
    parser = _FilterParser(text, schema, extra or {})
    pred = parser.parse()
    return pred, parser.advanced


# ---------------------------------------------------------------------------- $select

def parse_select(text: str | None, schemas: list[EntitySchema],
                 extra: dict[str, str] | None = None) -> list[str] | None:
    """Canonical property names of a $select list (each must exist on one of *schemas*, or be a
    registered directory extension property in *extra*)."""
    if text is None:
        return None
    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            raise GraphError(400, "BadRequest", f"Invalid $select: '{text}'.")
        found = None
        for schema in schemas:
            found = canonical(schema, name, extra)
            if found:
                break
        if found is None:
            raise no_such_property(name, schemas[0])
        if found not in out:
            out.append(found)
    return out


# ---------------------------------------------------------------------------- paging

def make_skiptoken(offset: int) -> str:
    raw = json.dumps({"o": offset}, separators=(",", ":")).encode()
    return "X" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_skiptoken(token: str) -> int:
    try:
        if not token.startswith("X"):
            raise ValueError(token)
        data = token[1:]
        data += "=" * (-len(data) % 4)
        offset = int(json.loads(base64.urlsafe_b64decode(data))["o"])
        if offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError):
        raise GraphError(400, "Directory_ExpiredPageToken",
                         "The specified page token value has expired and can no longer be "
                         "included in your request.") from None
