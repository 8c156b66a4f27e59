"""The function library of Entra Connect's declarative provisioning expression language.

Each function is a plain Python callable over evaluated arguments, with a
:class:`FunctionSpec` saying how many arguments it takes and which of them are
"scalar" positions. When a multi-valued value (a Python list) reaches a scalar
position, the function is applied to every value, as Entra Connect does
(``Trim([proxyAddresses])`` trims each address); null results are dropped from the
list. Program-flow functions (IIF, Switch, Select, Where, With, Error,
ImportedValue) need lazy arguments or variables and are compiled by
:mod:`.expression` itself; they are listed here for arity checks.

Values: ``None`` is null; ``str``, ``int``, ``float``, ``bool``, ``bytes`` and
``datetime`` are single values; a ``list`` is a multi-valued value (a
:class:`RefList` when it holds references). Semantics for null, empty and
multi-valued input follow Microsoft's functions reference; where it is silent the
choice is written in docs/rules.md.
"""
from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import random
import re
import uuid
from typing import Any, Callable, cast

from msgspec import Struct

from .budget import check_count, check_length, check_number_bits
from .model import ErrorFunctionTriggered, RuleEvaluationError


class Special:
    """The flow-control literals AuthoritativeNull and IgnoreThisFlow."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


AUTHORITATIVE_NULL = Special("AuthoritativeNull")
IGNORE_THIS_FLOW = Special("IgnoreThisFlow")


class RefList(list):
    """Values of a reference attribute (Contains matches them exactly, not as substrings)."""


class EnumName(str):
    """A bare enumeration name passed to a function (CaseInsensitive, UTF8, vbTextCompare...)."""


ENUM_NAMES = frozenset({"CaseInsensitive", "CaseSensitive", "Unicode", "ASCII", "UTF8",
                        "vbTextCompare", "vbBinaryCompare", "DC"})

FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)


class ExprTypeError(ValueError):
    """A value of the wrong type for a function (turned into RuleEvaluationError by the caller)."""


# -- conversions between the language's types ------------------------------------------------------

def fmt_num(v: int | float) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def to_str(v: Any) -> str:
    """A single value as text (CStr's rules): numbers in invariant form, booleans True/False."""
    t = type(v)
    if t is str or t is EnumName:
        return cast(str, v)  # type(v) checks are the fast path; mypy narrows only isinstance
    if t is bool:
        return "True" if v else "False"
    if t is int or t is float:
        return fmt_num(v)
    if isinstance(v, dt.datetime):
        return format_datetime(v, "yyyy-MM-ddTHH:mm:ssZ")
    if isinstance(v, (bytes, bytearray)):
        raise ExprTypeError("a binary value cannot be used as text (use ConvertToBase64, StringFromGuid or "
                            "StringFromSid)")
    if isinstance(v, Special):
        raise ExprTypeError(f"{v.name} cannot be used as a value")
    if isinstance(v, str):
        return str(v)
    raise ExprTypeError(f"cannot use {type(v).__name__} as text")


_HEX_NUM = re.compile(r"^\s*&H([0-9A-Fa-f]+)\s*$")


def parse_hex(digits: str) -> int:
    """&H literal digits as Entra Connect's 64-bit numbers: &H80000000 is 2147483648, &HFFFFFFFFFFFFFFFF is -1."""
    n = int(digits, 16)
    if n >= 1 << 63:
        n -= 1 << 64
    return n


def to_num(v: Any) -> int | float:
    """A number from a number, a boolean (1/0) or numeric text (decimal or &H hex)."""
    t = type(v)
    if t is int or t is float:
        return cast("int | float", v)
    if t is bool:
        return 1 if v else 0
    if isinstance(v, str):
        s = v.strip()
        m = _HEX_NUM.match(s)
        if m:
            return parse_hex(m.group(1))
        try:
            return int(s)
        except ValueError:
            pass
        try:
            f = float(s)
        except ValueError:
            raise ExprTypeError(f"\"{v}\" is not a number") from None
        return int(f) if f.is_integer() else f
    if isinstance(v, (bytes, bytearray)):
        raise ExprTypeError("a binary value is not a number")
    if isinstance(v, dt.datetime):
        raise ExprTypeError("a date is not a number (use NumFromDate)")
    raise ExprTypeError(f"{v!r} is not a number")


def to_int(v: Any) -> int:
    n = to_num(v)
    return int(n)


def truth(v: Any) -> bool:
    """How a condition reads a value: null is false; a list is true when any value is."""
    if v is None or isinstance(v, Special):
        return False
    t = type(v)
    if t is bool:
        return cast(bool, v)
    if t is int or t is float:
        return cast("int | float", v) != 0
    if isinstance(v, list):
        return any(truth(x) for x in v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "false"):
            return s == "true"
        try:
            return to_num(s) != 0
        except ExprTypeError:
            raise ExprTypeError(f"\"{v}\" is not a Boolean") from None
    raise ExprTypeError(f"{v!r} is not a Boolean")


def as_list(v: Any) -> list | None:
    """A value seen as multi-valued: null stays null, a single value becomes a list of one."""
    if v is None:
        return None
    if isinstance(v, list):
        return v
    return [v]


# -- operators -------------------------------------------------------------------------------------

def _is_numeric_text(s: str) -> bool:
    try:
        to_num(s)
        return True
    except ExprTypeError:
        return False


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two single values to one type for comparison (numbers when both read as numbers)."""
    ta, tb = type(a), type(b)
    if ta is tb and ta is not bool:
        return a, b
    if ta is bool or tb is bool:
        return truth(a), truth(b)
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num):
        return a, b
    if isinstance(a, num) and isinstance(b, str) and _is_numeric_text(b):
        return a, to_num(b)
    if isinstance(b, num) and isinstance(a, str) and _is_numeric_text(a):
        return to_num(a), b
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return cdate(a), cdate(b)
    if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)):
        return bytes(a), bytes(b)
    return to_str(a), to_str(b)


def op_eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x: object  # whatever _comparable brings them to, == of two objects is a bool
    y: object
    x, y = _comparable(a, b)
    return x == y


def op_ne(a: Any, b: Any) -> bool:
    return not op_eq(a, b)


def _ordered(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> bool:
    if a is None or b is None:
        return False
    x, y = _comparable(a, b)
    return test(x, y)


def op_lt(a: Any, b: Any) -> bool:
    return _ordered(a, b, lambda x, y: x < y)


def op_le(a: Any, b: Any) -> bool:
    return _ordered(a, b, lambda x, y: x <= y)


def op_gt(a: Any, b: Any) -> bool:
    return _ordered(a, b, lambda x, y: x > y)


def op_ge(a: Any, b: Any) -> bool:
    return _ordered(a, b, lambda x, y: x >= y)


def op_concat(a: Any, b: Any) -> Any:
    """& : null reads as the empty string (as in VBA); null & null is null."""
    if a is None:
        return None if b is None else to_str(b)
    if b is None:
        return to_str(a)
    sa, sb = to_str(a), to_str(b)
    check_length(len(sa) + len(sb))
    return sa + sb


def op_add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, str) and isinstance(b, str) and not (_is_numeric_text(a) and _is_numeric_text(b)):
        check_length(len(a) + len(b))
        return a + b
    return to_num(a) + to_num(b)


def op_sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return to_num(a) - to_num(b)


def op_mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = to_num(a), to_num(b)
    if isinstance(x, int) and isinstance(y, int):
        check_number_bits(x.bit_length() + y.bit_length())
    return x * y


def op_div(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = to_num(a), to_num(b)
    if y == 0:
        raise ExprTypeError("division by zero")
    q = x / y
    return int(q) if isinstance(q, float) and q.is_integer() and isinstance(x, int) and isinstance(y, int) else q


def op_neg(a: Any) -> Any:
    if a is None:
        return None
    return -to_num(a)


BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": op_eq, "<>": op_ne, "<": op_lt, "<=": op_le, ">": op_gt, ">=": op_ge,
    "&": op_concat, "+": op_add, "-": op_sub, "*": op_mul, "/": op_div,
}


# -- conversion functions --------------------------------------------------------------------------

def f_cbool(v: Any) -> bool:
    # "If the expression evaluates to a non-zero value, then CBool returns True, else it returns False."
    return truth(v)


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                 "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y%m%d%H%M%S", "%Y/%m/%d",
                 "%Y/%m/%d %H:%M:%S", "%d %B %Y", "%B %d, %Y")
_DATE_TZ = re.compile(r"^(?P<body>.*?)\s*(?:(?P<z>Z)|(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)$")
_AMPM = re.compile(r"^(?P<body>.*\d)\s*(?P<ampm>[AaPp][Mm])$")
_GENERALIZED = re.compile(r"^(\d{14})(?:\.\d+)?(Z|[+-]\d{4})?$")


#: The longest text read as a date ("Wednesday, September 10, 2014 10:00:00.0000000 PM +08:00" is 55):
#: longer text is not a date, and the patterns below never see it, so parsing stays linear in the input.
MAX_DATE_TEXT = 100


def cdate(v: Any) -> dt.datetime:
    """A UTC datetime from text such as "2013-01-10 4:00 PM -8", "12/25/2007" or "20140905081453.0Z"."""
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    if not isinstance(v, str):
        raise ExprTypeError(f"{v!r} is not a date")
    s = v.strip()
    if len(s) > MAX_DATE_TEXT:
        raise ExprTypeError(f"a text of {len(s)} characters is not a date (at most {MAX_DATE_TEXT} are read as one)")
    g = _GENERALIZED.match(s)  # LDAP GeneralizedTime (whenCreated, ...)
    if g:
        base = dt.datetime.strptime(g.group(1), "%Y%m%d%H%M%S")
        off = g.group(2)
        tz = dt.timezone.utc
        if off and off != "Z":
            sign = 1 if off[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[3:5])))
        return base.replace(tzinfo=tz).astimezone(dt.timezone.utc)
    tz = dt.timezone.utc
    m = _DATE_TZ.match(s)
    if m and (m.group("z") or (m.group("sign") and re.search(r"\d[:.\d]*\s*([AaPp][Mm])?\s*$", m.group("body"))
                               and (" " in s or "T" in s))):
        body = m.group("body")
        if m.group("sign"):
            sign = 1 if m.group("sign") == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(m.group("h")), minutes=int(m.group("m") or 0)))
        s = body.strip()
    ampm = None
    a = _AMPM.match(s)
    if a:
        s, ampm = a.group("body").strip(), a.group("ampm").upper()
    parsed = None
    try:
        parsed = dt.datetime.fromisoformat(s)
    except ValueError:
        for f in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(s, f)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ExprTypeError(f"\"{v}\" is not a date")
    if ampm:
        hour = parsed.hour % 12 + (12 if ampm == "PM" else 0)
        parsed = parsed.replace(hour=hour)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.timezone.utc)


def f_cdate(v: Any) -> dt.datetime | None:
    if v is None:
        return None
    return cdate(v)


_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$")


def _is_guid_text(s: str) -> bool:
    if not _GUID.match(s):
        return False
    return (s[0] == "{") == (s[-1] == "}")


def f_cguid(v: Any) -> bytes | None:
    """GUID text -> the 16 bytes as Active Directory stores objectGUID (.NET Guid.ToByteArray order)."""
    if v is None:
        return None
    s = to_str(v).strip()
    if not _is_guid_text(s):
        raise ExprTypeError(f"\"{s}\" is not a GUID")
    return uuid.UUID(s.strip("{}")).bytes_le


_ENCODINGS = {"Unicode": "utf-16-le", "ASCII": "ascii", "UTF8": "utf-8"}


def f_convert_from_base64(v: Any, encoding: Any = "Unicode") -> str | None:
    if v is None:
        return None
    enc = _ENCODINGS.get(str(encoding))
    if enc is None:
        raise ExprTypeError(f"unknown encoding {encoding!r} (Unicode, ASCII or UTF8)")
    try:
        raw = base64.b64decode(to_str(v), validate=True)
    except (binascii.Error, ValueError):
        raise ExprTypeError(f"\"{v}\" is not base64") from None
    try:
        return raw.decode(enc)
    except UnicodeDecodeError:
        raise ExprTypeError(f"\"{v}\" does not decode as {encoding}") from None


def f_convert_to_base64(v: Any) -> str | None:
    """Text is encoded as UTF-16LE first ("a Unicode base64 string"); binary values as they are."""
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    return base64.b64encode(to_str(v).encode("utf-16-le")).decode("ascii")


def f_convert_from_utf8hex(v: Any) -> str | None:
    if v is None:
        return None
    try:
        return bytes.fromhex(to_str(v)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ExprTypeError(f"\"{v}\" is not UTF-8 hex") from None


def f_convert_to_utf8hex(v: Any) -> str | None:
    if v is None:
        return None
    return to_str(v).encode("utf-8").hex().upper()


def f_cnum(v: Any) -> int | float | None:
    if v is None:
        return None
    return to_num(v)


def f_cref(v: Any) -> str | None:
    if v is None:
        return None
    return to_str(v)


def f_cstr(v: Any) -> str | None:
    if v is None:
        return None
    return to_str(v)


def f_string_from_guid(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        if len(v) != 16:
            raise ExprTypeError(f"a GUID has 16 bytes, not {len(v)}")
        return str(uuid.UUID(bytes_le=bytes(v)))
    s = to_str(v).strip()
    if _is_guid_text(s):
        return str(uuid.UUID(s.strip("{}")))
    raise ExprTypeError(f"\"{s}\" is not a GUID")


def f_string_from_sid(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str) and v.upper().startswith("S-"):
        return v
    if not isinstance(v, (bytes, bytearray)) or len(v) < 8:
        raise ExprTypeError("StringFromSid needs a binary security identifier")
    b = bytes(v)
    count = b[1]
    if len(b) < 8 + 4 * count:
        raise ExprTypeError("the security identifier is truncated")
    authority = int.from_bytes(b[2:8], "big")
    subs = [str(int.from_bytes(b[8 + 4 * i:12 + 4 * i], "little")) for i in range(count)]
    return "-".join(["S", str(b[0]), str(authority), *subs])


# -- date and time ---------------------------------------------------------------------------------

def _add_months(d: dt.datetime, months: int) -> dt.datetime:
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def f_date_add(interval: Any, value: Any, date: Any) -> dt.datetime | None:
    if interval is None or value is None or date is None:
        return None
    d = cdate(date)
    n = to_num(value)
    iv = to_str(interval)
    if iv == "yyyy":
        return _add_months(d, int(n) * 12)
    if iv == "q":
        return _add_months(d, int(n) * 3)
    if iv == "m":
        return _add_months(d, int(n))
    if iv in ("y", "d", "w"):
        return d + dt.timedelta(days=n)
    if iv == "ww":
        return d + dt.timedelta(weeks=n)
    if iv == "h":
        return d + dt.timedelta(hours=n)
    if iv == "n":
        return d + dt.timedelta(minutes=n)
    if iv == "s":
        return d + dt.timedelta(seconds=n)
    raise ExprTypeError(f"unknown interval \"{iv}\" (yyyy, q, m, y, d, w, ww, h, n, s)")


def f_date_from_num(v: Any) -> dt.datetime | None:
    """Active Directory's 100-nanosecond ticks since 1601-01-01 UTC; out-of-range ("never") is null."""
    if v is None:
        return None
    n = to_int(v)
    try:
        return FILETIME_EPOCH + dt.timedelta(microseconds=n // 10)
    except OverflowError:
        return None


def f_num_from_date(v: Any) -> int | None:
    if v is None:
        return None
    d = cdate(v)
    delta = d - FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def f_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_DT_TOKEN = re.compile(r"yyyy|yyy|yy|y|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fffff|ffff"
                       r"|fff|ff|f|FFFFFFF|FFFFFF|FFFFF|FFFF|FFF|FF|F|tt|t|zzz|zz|z|K|'[^']*'|\"[^\"]*\"|\\.|.",
                       re.S)
_STANDARD = {"s": "yyyy-MM-ddTHH:mm:ss", "u": "yyyy-MM-dd HH:mm:ssZ", "o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
             "O": "yyyy-MM-ddTHH:mm:ss.fffffffK", "d": "M/d/yyyy", "D": "dddd, MMMM d, yyyy",
             "g": "M/d/yyyy h:mm tt", "G": "M/d/yyyy h:mm:ss tt", "t": "h:mm tt", "T": "h:mm:ss tt"}


def format_datetime(d: dt.datetime, fmt: str) -> str:
    """.NET custom date and time format strings (invariant culture), the syntax FormatDateTime takes."""
    if len(fmt) == 1 and fmt in _STANDARD:
        fmt = _STANDARD[fmt]
    out = []
    for tok in _DT_TOKEN.findall(fmt):
        c = tok[0]
        if c in "'\"":
            out.append(tok[1:-1])
        elif c == "\\":
            out.append(tok[1:])
        elif c == "y":
            out.append(str(d.year % 100).zfill(len(tok)) if len(tok) <= 2 else str(d.year).zfill(len(tok)))
        elif c == "M":
            out.append(d.strftime("%B") if len(tok) == 4 else d.strftime("%b") if len(tok) == 3
                       else str(d.month).zfill(len(tok)))
        elif c == "d":
            out.append(d.strftime("%A") if len(tok) == 4 else d.strftime("%a") if len(tok) == 3
                       else str(d.day).zfill(len(tok)))
        elif c == "H":
            out.append(str(d.hour).zfill(len(tok)))
        elif c == "h":
            out.append(str(d.hour % 12 or 12).zfill(len(tok)))
        elif c == "m":
            out.append(str(d.minute).zfill(len(tok)))
        elif c == "s":
            out.append(str(d.second).zfill(len(tok)))
        elif c in "fF":
            digits = f"{d.microsecond:06d}0"[:len(tok)]
            out.append(digits.rstrip("0") if c == "F" else digits)
        elif c == "t":
            out.append(("AM" if d.hour < 12 else "PM")[:len(tok)])
        elif c in "zK":
            off = d.utcoffset() or dt.timedelta(0)
            if c == "K" and off == dt.timedelta(0):
                out.append("Z")
                continue
            total = int(off.total_seconds() // 60)
            sign = "+" if total >= 0 else "-"
            hh, mm = divmod(abs(total), 60)
            out.append(f"{sign}{hh}" if tok == "z" else f"{sign}{hh:02d}" if tok == "zz" else f"{sign}{hh:02d}:{mm:02d}")
        else:
            out.append(tok)
    return "".join(out)


def f_format_datetime(v: Any, fmt: Any) -> str | None:
    if v is None or fmt is None:
        return None
    return format_datetime(cdate(v), to_str(fmt))


# -- directory -------------------------------------------------------------------------------------

def split_dn(dn: str) -> list[str]:
    """RDNs of a DN, split at unescaped commas, each kept as written (escapes included)."""
    parts, cur, i, n = [], [], 0, len(dn)
    while i < n:
        c = dn[i]
        if c == "\\" and i + 1 < n:
            cur.append(dn[i:i + 2])
            i += 2
            continue
        if c == ",":
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur or parts:
        parts.append("".join(cur).strip())
    return parts


def _rdn_value(rdn: str) -> str:
    _, _, value = rdn.partition("=")
    return value


def f_dn_component(dn: Any, n: Any) -> str | None:
    """The value of the n-th RDN from the left (1-based), escapes kept; out of range is null."""
    if dn is None or n is None:
        return None
    rdns = split_dn(to_str(dn))
    i = to_int(n)
    if i < 1 or i > len(rdns):
        return None
    return _rdn_value(rdns[i - 1])


def f_dn_component_rev(dn: Any, n: Any, options: Any = None) -> str | None:
    """The value of the n-th RDN from the right; option "DC" ignores the dc= components."""
    if dn is None or n is None:
        return None
    rdns = split_dn(to_str(dn))
    if options is not None:
        if to_str(options).upper() != "DC":
            raise ExprTypeError(f"unknown option {options!r} (only \"DC\")")
        rdns = [r for r in rdns if not r.lower().startswith("dc=")]
    i = to_int(n)
    if i < 1 or i > len(rdns):
        return None
    return _rdn_value(rdns[len(rdns) - i])


_DN_SPECIAL = set(',+"\\<>;=')


def f_escape_dn_component(v: Any) -> str | None:
    """Escape the value of one RDN ("cn=Smith, John" -> "cn=Smith\\, John") as RFC 4514 requires."""
    if v is None:
        return None
    s = to_str(v)
    prefix = ""
    eq = s.find("=")
    if eq > 0 and re.match(r"^[A-Za-z][A-Za-z0-9-]*$", s[:eq]):
        prefix, s = s[:eq + 1], s[eq + 1:]
    out = []
    for i, c in enumerate(s):
        if c in _DN_SPECIAL or (i == 0 and c in " #") or (i == len(s) - 1 and c == " "):
            out.append("\\" + c)
        elif c in "\r\n\x00":
            out.append("\\%02X" % ord(c))
        else:
            out.append(c)
    return prefix + "".join(out)


# -- evaluation ------------------------------------------------------------------------------------

def f_is_bit_set(value: Any, flag: Any) -> bool:
    if value is None or flag is None:
        return False
    f = to_int(flag)
    return (to_int(value) & f) == f


def f_is_date(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, dt.datetime):
        return True
    try:
        cdate(v)
        return True
    except (ExprTypeError, ValueError, OverflowError):
        return False


def f_is_empty(v: object) -> bool:
    # present but an empty string
    if isinstance(v, list):
        return bool(v) and all(x == "" for x in v)
    return v == ""


def f_is_guid(v: Any) -> bool:
    if isinstance(v, str):
        return _is_guid_text(v.strip())
    return False


def f_is_null(v: Any) -> bool:
    return v is None or (isinstance(v, list) and not v) or v is AUTHORITATIVE_NULL or v is IGNORE_THIS_FLOW


def f_is_null_or_empty(v: Any) -> bool:
    if f_is_null(v):
        return True
    if isinstance(v, list):
        return all(x == "" or x is None for x in v)
    return v == "" or (isinstance(v, (bytes, bytearray)) and not v)


def f_is_numeric(v: Any) -> bool:
    if v is None or isinstance(v, (bool, bytes, bytearray, dt.datetime, list)):
        return False
    if isinstance(v, (int, float)):
        return True
    return _is_numeric_text(to_str(v))


def f_is_present(v: Any) -> bool:
    return not f_is_null_or_empty(v)


def f_is_string(v: Any) -> bool:
    # "Used to determine if CStr() can be successful": text, numbers, booleans and references.
    return isinstance(v, (str, int, float)) and not isinstance(v, Special)


# -- math ------------------------------------------------------------------------------------------

def f_bit_and(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    return to_int(a) & to_int(b)


def f_bit_or(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    return to_int(a) | to_int(b)


def f_random_num(start: Any, end: Any) -> int | None:
    if start is None or end is None:
        return None
    lo, hi = to_int(start), to_int(end)
    return random.randint(min(lo, hi), max(lo, hi))


# -- multi-valued ----------------------------------------------------------------------------------

def _case(casetype: Any) -> bool:
    """True when the comparison ignores case."""
    if casetype is None:
        return False
    name = to_str(casetype)
    if name == "CaseInsensitive":
        return True
    if name == "CaseSensitive":
        return False
    raise ExprTypeError(f"unknown case type {casetype!r} (CaseSensitive or CaseInsensitive)")


def f_contains(attribute: Any, search: Any, casetype: Any = None) -> int:
    """1-based index of the first value holding *search* (a reference must equal it); 0 when none does."""
    values = as_list(attribute)
    if not values or search is None:
        return 0
    s = to_str(search)
    ci = _case(casetype)
    if ci:
        s = s.lower()
    exact = isinstance(attribute, RefList)
    for i, v in enumerate(values, 1):
        t = to_str(v)
        if ci:
            t = t.lower()
        if (t == s) if exact else (s in t):
            return i
    return 0


def f_count(attribute: Any) -> int:
    values = as_list(attribute)
    return len(values) if values else 0


def f_item(attribute: Any, index: Any) -> Any:
    values = as_list(attribute) or []
    i = to_int(index) if index is not None else 0
    if i < 1 or i > len(values):
        raise ExprTypeError(f"index {i} is out of bounds (the attribute has {len(values)} value(s))")
    return values[i - 1]


def f_item_or_null(attribute: Any, index: Any) -> Any:
    values = as_list(attribute) or []
    if index is None:
        return None
    i = to_int(index)
    if i < 1 or i > len(values):
        return None
    return values[i - 1]


def f_join(attribute: Any, delimiter: Any = " ") -> str | None:
    values = as_list(attribute)
    if values is None:
        return None
    d = "" if delimiter is None else to_str(delimiter)
    texts = [to_str(v) for v in values]
    check_length(sum(map(len, texts)) + len(d) * max(0, len(texts) - 1), "the joined value")
    return d.join(texts)


def f_remove_duplicates(attribute: Any) -> Any:
    values = as_list(attribute)
    if values is None:
        return None
    seen: set = set()
    out = []
    for v in values:
        key = bytes(v) if isinstance(v, bytearray) else v
        if key not in seen:
            seen.add(key)
            out.append(v)
    return RefList(out) if isinstance(attribute, RefList) else out


def f_split(value: Any, delimiter: Any, limit: Any = None) -> list[str] | None:
    if value is None:
        return None
    s = to_str(value)
    d = to_str(delimiter) if delimiter is not None else ""
    if d == "":
        return [s]
    if limit is None:
        check_count(s.count(d) + 1)
        return s.split(d)
    n = to_int(limit)
    if n <= 0:
        return []
    check_count(min(n, s.count(d) + 1))
    return s.split(d, n - 1)


# -- text ------------------------------------------------------------------------------------------

def f_guid() -> str:
    return str(uuid.uuid4())


def _compare_mode(compare: Any) -> bool:
    if compare is None:
        return False
    name = to_str(compare)
    if name == "vbTextCompare":
        return True
    if name == "vbBinaryCompare":
        return False
    raise ExprTypeError(f"unknown compare mode {compare!r} (vbBinaryCompare or vbTextCompare)")


def f_instr(check: Any, match: Any, start: Any = None, compare: Any = None) -> int:
    """1-based position of the first *match* at or after *start*; 0 when absent or the string is null."""
    if check is None or match is None:
        return 0
    s, m = to_str(check), to_str(match)
    if _compare_mode(compare):
        s, m = s.lower(), m.lower()
    st = 1 if start is None else to_int(start)
    if st < 1:
        raise ExprTypeError(f"start {st} must be 1 or more")
    return s.find(m, st - 1) + 1


def f_instr_rev(check: Any, match: Any, start: Any = None, compare: Any = None) -> int:
    """1-based position of the last *match* lying wholly within the first *start* characters (all by default)."""
    if check is None or match is None:
        return 0
    s, m = to_str(check), to_str(match)
    if _compare_mode(compare):
        s, m = s.lower(), m.lower()
    st = -1 if start is None else to_int(start)
    if st == 0 or st < -1:
        raise ExprTypeError(f"start {st} must be -1 or 1 or more")
    hay = s if st == -1 else s[:st]
    return hay.rfind(m) + 1


def f_lcase(v: Any) -> str | None:
    return None if v is None else to_str(v).lower()


def f_ucase(v: Any) -> str | None:
    return None if v is None else to_str(v).upper()


def f_left(v: Any, n: Any) -> str:
    if v is None:
        return ""
    s = to_str(v)
    k = to_int(n)
    if k < 0:
        return s
    return s[:k]


def f_right(v: Any, n: Any) -> str:
    if v is None:
        return ""
    s = to_str(v)
    k = to_int(n)
    if k < 0:
        return s
    return s[len(s) - k:] if k else ""


def f_mid(v: Any, start: Any, n: Any = None) -> str:
    if v is None:
        return ""
    s = to_str(v)
    st = to_int(start)
    if n is None:
        k = len(s)
    else:
        k = to_int(n)
    if k == 0:
        return ""
    if k < 0 or st <= 0 or st > len(s):
        return s
    return s[st - 1:st - 1 + k]


def f_len(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    return len(to_str(v))


def f_trim(v: Any) -> str | None:
    return None if v is None else to_str(v).strip()


def f_ltrim(v: Any) -> str | None:
    return None if v is None else to_str(v).lstrip()


def f_rtrim(v: Any) -> str | None:
    return None if v is None else to_str(v).rstrip()


def _pad_char(c: Any) -> str:
    if c is None:
        raise ExprTypeError("the pad character cannot be null")
    s = to_str(c)
    if len(s) != 1:
        raise ExprTypeError(f"the pad character must be one character, not \"{s}\"")
    return s


def _pad_length(length: Any) -> int:
    n = to_int(length)
    check_length(n, "the padded value")
    return n


def f_pad_left(v: Any, length: Any, pad: Any) -> str:
    if v is None:
        return ""
    return to_str(v).rjust(_pad_length(length), _pad_char(pad))


def f_pad_right(v: Any, length: Any, pad: Any) -> str:
    if v is None:
        return ""
    return to_str(v).ljust(_pad_length(length), _pad_char(pad))


def f_pcase(v: Any) -> str | None:
    """First letter of each space-delimited word upper, the rest lower; all-capital words stay (acronyms)."""
    if v is None:
        return None
    words = to_str(v).split(" ")
    out = []
    for w in words:
        if not w or (w.isupper() and any(c.isalpha() for c in w)):
            out.append(w)
        else:
            out.append(w[0].upper() + w[1:].lower())
    return " ".join(out)


_MONIKERS = (("\\n", "\n"), ("\\r", "\r"), ("\\t", "\t"))


def _monikers(s: str) -> str:
    for k, v in _MONIKERS:
        s = s.replace(k, v)
    return s


def f_replace(v: Any, old: Any, new: Any) -> str | None:
    if v is None:
        return None
    s = to_str(v)
    o = _monikers(to_str(old)) if old is not None else ""
    if not o:
        return s
    n = _monikers(to_str(new)) if new is not None else ""
    if len(n) > len(o):
        check_length(len(s) + s.count(o) * (len(n) - len(o)), "the replaced value")
    return s.replace(o, n)


_REPLACE_PATTERNS: dict[str, dict[int, str]] = {}


def parse_replace_pattern(pattern: str) -> dict[int, str]:
    """"{source}:{target},..." -> str.translate table; whitespace ignored, sources one character each."""
    table = _REPLACE_PATTERNS.get(pattern)
    if table is not None:
        return table
    table = {}
    compact = "".join(c for c in pattern if not c.isspace())
    for entry in compact.split(","):
        if not entry:
            continue
        src, sep, dst = entry.partition(":")
        if not sep or len(src) != 1:
            raise ExprTypeError(f"ReplaceChars pattern entry \"{entry}\" must be one character, a colon and "
                                "the replacement")
        table[ord(src)] = dst
    if len(_REPLACE_PATTERNS) < 256:
        _REPLACE_PATTERNS[pattern] = table
    return table


def f_replace_chars(v: Any, pattern: Any) -> str | None:
    if v is None:
        return None
    if pattern is None:
        return to_str(v)
    s = to_str(v)
    table = parse_replace_pattern(to_str(pattern))
    if any(len(t) > 1 for t in table.values()):
        check_length(len(s) + sum(len(table[ord(c)]) - 1 for c in s if ord(c) in table), "the replaced value")
    return s.translate(table)


def f_word(v: Any, n: Any, delimiters: Any) -> str:
    """The n-th word (1-based) between any of the delimiter characters; empty when there is none."""
    if v is None or n is None:
        return ""
    s = to_str(v)
    k = to_int(n)
    if k < 1:
        return ""
    delims = to_str(delimiters) if delimiters is not None else ""
    if not delims:
        words = [s] if s else []
    else:
        words = [w for w in re.split("[" + re.escape(delims) + "]", s) if w]
    return words[k - 1] if k <= len(words) else ""


def f_error(message: Any) -> Any:
    raise ErrorFunctionTriggered(to_str(message) if message is not None else "Error")


# -- the table -------------------------------------------------------------------------------------

class FunctionSpec(Struct, frozen=True):
    """A function of the expression language: its arity and how it treats multi-valued arguments."""

    name: str
    impl: Callable[..., Any] | None  # None: compiled specially by the expression compiler
    min_args: int
    max_args: int | None  # None: any number (Switch)
    scalar: str = ""  # one letter per position: "s" = applied per value of a multi-valued argument, "v" = whole
    pure: bool = True  # may be folded when all arguments are constants
    summary: str = ""

    def scalar_at(self, i: int) -> bool:
        if not self.scalar:
            return False
        return (self.scalar[i] if i < len(self.scalar) else self.scalar[-1]) == "s"


def _spec(name: str, impl: Callable[..., Any] | None, lo: int, hi: int | None, scalar: str = "",
          pure: bool = True, summary: str = "") -> FunctionSpec:
    return FunctionSpec(name, impl, lo, hi, scalar, pure, summary)


FUNCTIONS: dict[str, FunctionSpec] = {s.name: s for s in (
    # conversion
    _spec("CBool", f_cbool, 1, 1, "s", summary="Boolean of a value: non-zero, True or \"True\" is True; null is False"),
    _spec("CDate", f_cdate, 1, 1, "s", summary="UTC date-time from text"),
    _spec("CGuid", f_cguid, 1, 1, "s", summary="GUID text to its 16 bytes (objectGUID order)"),
    _spec("ConvertFromBase64", f_convert_from_base64, 1, 2, "sv", summary="base64 to text (Unicode, ASCII or UTF8)"),
    _spec("ConvertToBase64", f_convert_to_base64, 1, 1, "s", summary="text (as UTF-16LE) or binary to base64"),
    _spec("ConvertFromUTF8Hex", f_convert_from_utf8hex, 1, 1, "s", summary="UTF-8 hex to text"),
    _spec("ConvertToUTF8Hex", f_convert_to_utf8hex, 1, 1, "s", summary="text to upper-case UTF-8 hex"),
    _spec("CNum", f_cnum, 1, 1, "s", summary="number from text"),
    _spec("CRef", f_cref, 1, 1, "s", summary="reference (DN) from text"),
    _spec("CStr", f_cstr, 1, 1, "s", summary="text from a number, Boolean or reference"),
    _spec("StringFromGuid", f_string_from_guid, 1, 1, "s", summary="binary GUID to text"),
    _spec("StringFromSid", f_string_from_sid, 1, 1, "s", summary="binary SID to S-1-5-..."),
    # date and time
    _spec("DateAdd", f_date_add, 3, 3, "sss", summary="add an interval to a date"),
    _spec("DateFromNum", f_date_from_num, 1, 1, "s", summary="AD ticks (since 1601) to a date"),
    _spec("FormatDateTime", f_format_datetime, 2, 2, "ss", summary=".NET custom date format"),
    _spec("Now", f_now, 0, 0, pure=False, summary="current UTC date-time"),
    _spec("NumFromDate", f_num_from_date, 1, 1, "s", summary="date to AD ticks"),
    # directory
    _spec("DNComponent", f_dn_component, 2, 2, "ss", summary="value of the n-th RDN from the left"),
    _spec("DNComponentRev", f_dn_component_rev, 2, 3, "sss", summary="value of the n-th RDN from the right"),
    _spec("EscapeDNComponent", f_escape_dn_component, 1, 1, "s", summary="escape one RDN for LDAP"),
    # evaluation
    _spec("IsBitSet", f_is_bit_set, 2, 2, "ss", summary="all bits of flag set in value"),
    _spec("IsDate", f_is_date, 1, 1, "v", summary="CDate would succeed"),
    _spec("IsEmpty", f_is_empty, 1, 1, "v", summary="present but the empty string"),
    _spec("IsGuid", f_is_guid, 1, 1, "s", summary="text in GUID form"),
    _spec("IsNull", f_is_null, 1, 1, "v", summary="null (attribute absent)"),
    _spec("IsNullOrEmpty", f_is_null_or_empty, 1, 1, "v", summary="null or the empty string"),
    _spec("IsNumeric", f_is_numeric, 1, 1, "v", summary="CNum would succeed"),
    _spec("IsPresent", f_is_present, 1, 1, "v", summary="neither null nor empty"),
    _spec("IsString", f_is_string, 1, 1, "v", summary="CStr would succeed"),
    # math
    _spec("BitAnd", f_bit_and, 2, 2, "ss", summary="bitwise AND"),
    _spec("BitOr", f_bit_or, 2, 2, "ss", summary="bitwise OR"),
    _spec("RandomNum", f_random_num, 2, 2, "ss", pure=False, summary="random integer in [start, end]"),
    # multi-valued
    _spec("Contains", f_contains, 2, 3, "vsv", summary="1-based index of the first value holding a string, 0 if none"),
    _spec("Count", f_count, 1, 1, "v", summary="number of values"),
    _spec("Item", f_item, 2, 2, "vs", summary="n-th value (1-based); error when out of bounds"),
    _spec("ItemOrNull", f_item_or_null, 2, 2, "vs", summary="n-th value (1-based); null when out of bounds"),
    _spec("Join", f_join, 1, 2, "vv", summary="values joined by a delimiter (space by default)"),
    _spec("RemoveDuplicates", f_remove_duplicates, 1, 1, "v", summary="values without exact duplicates"),
    _spec("Split", f_split, 2, 3, "svv", summary="text split at a delimiter into values"),
    # program flow (compiled specially)
    _spec("Error", None, 1, 1, pure=False, summary="stop the sync of the object with a message"),
    _spec("IIF", None, 3, 3, summary="valueIfTrue when the condition holds, else valueIfFalse"),
    _spec("Select", None, 3, 3, summary="map each value through an expression of $item"),
    _spec("Switch", None, 2, None, summary="value of the first true condition of condition/value pairs"),
    _spec("Where", None, 3, 3, summary="values for which a condition of $item holds"),
    _spec("With", None, 3, 3, summary="name a subexpression as $variable"),
    _spec("ImportedValue", None, 1, 1, pure=False, summary="attribute value as last imported (quoted name)"),
    # text
    _spec("Guid", f_guid, 0, 0, pure=False, summary="new random GUID text"),
    _spec("InStr", f_instr, 2, 4, "ssvv", summary="1-based position of a substring, 0 if absent"),
    _spec("InStrRev", f_instr_rev, 2, 4, "ssvv", summary="1-based position of the last occurrence, 0 if absent"),
    _spec("LCase", f_lcase, 1, 1, "s", summary="lower case"),
    _spec("Left", f_left, 2, 2, "ss", summary="first n characters"),
    _spec("Len", f_len, 1, 1, "s", summary="number of characters"),
    _spec("LTrim", f_ltrim, 1, 1, "s", summary="leading white space removed"),
    _spec("Mid", f_mid, 2, 3, "sss", summary="n characters from a 1-based start"),
    _spec("PadLeft", f_pad_left, 3, 3, "sss", summary="left-padded to a length"),
    _spec("PadRight", f_pad_right, 3, 3, "sss", summary="right-padded to a length"),
    _spec("PCase", f_pcase, 1, 1, "s", summary="proper case"),
    _spec("Replace", f_replace, 3, 3, "sss", summary="all occurrences replaced (\\n \\r \\t understood)"),
    _spec("ReplaceChars", f_replace_chars, 2, 2, "ss", summary="characters replaced per a {c}:{text},... pattern"),
    _spec("Right", f_right, 2, 2, "ss", summary="last n characters"),
    _spec("RTrim", f_rtrim, 1, 1, "s", summary="trailing white space removed"),
    _spec("Trim", f_trim, 1, 1, "s", summary="leading and trailing white space removed"),
    _spec("UCase", f_ucase, 1, 1, "s", summary="upper case"),
    _spec("Word", f_word, 3, 3, "sss", summary="n-th word between delimiter characters"),
)}

CONSTANTS: dict[str, Any] = {
    "True": True,
    "False": False,
    "NULL": None,
    "Nothing": None,
    "CRLF": "\r\n",
    "AuthoritativeNull": AUTHORITATIVE_NULL,
    "IgnoreThisFlow": IGNORE_THIS_FLOW,
}


def wrap_error(name: str, pos: int, exc: Exception) -> RuleEvaluationError:
    if isinstance(exc, RuleEvaluationError):
        return exc
    detail = str(exc)
    if isinstance(exc, MemoryError):
        detail = "out of memory (a value far beyond the evaluation budget, docs/rules.md)"
    elif not detail:
        detail = type(exc).__name__
    return RuleEvaluationError(f"{name} (position {pos}): {detail}")


def display_value(v: Any) -> str:
    """A value as an explanation shows it: "text", 42, True, null, base64 for binary, [a, b] for lists."""
    if v is None:
        return "null"
    if isinstance(v, Special):
        return v.name
    if isinstance(v, list):
        return "[" + ", ".join(display_value(x) for x in v) + "]"
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dt.datetime):
        return format_datetime(v, "yyyy-MM-ddTHH:mm:ssZ")
    return to_str(v)
