"""Entra Connect's expression language: tokens, grammar, errors at compile time, and every function's semantics
for ordinary, null, empty and multi-valued input (Microsoft's functions reference; docs/rules.md for the choices
where it is silent)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from pybridge.core.rules import (AUTHORITATIVE_NULL, FUNCTIONS, IGNORE_THIS_FLOW, ErrorFunctionTriggered, RuleError,
                                 RuleEvaluationError, compile_expression)
from pybridge.core.rules.expression import ExpressionSyntaxError, parse, tokenize
from pybridge.errors import ConfigError, PyBridgeError

UTC = dt.timezone.utc


def ev(text: str, attrs: dict | None = None, ctx: dict | None = None, params: dict | None = None):
    return compile_expression(text)(attrs or {}, ctx or {}, params)


def err(text: str) -> RuleError:
    with pytest.raises(RuleError) as e:
        compile_expression(text)
    return e.value


# -- tokens and grammar ----------------------------------------------------------------------------

def test_tokens_of_every_kind():
    kinds = [(t.kind, t.value) for t in tokenize('[mS-DS-ConsistencyGuid] & %Domain.FQDN% <> "a""b\\"c" && $item '
                                                 '|| &H21C07000 >= 12.5')]
    assert kinds == [("attr", "mS-DS-ConsistencyGuid"), ("op", "&"), ("param", "Domain.FQDN"), ("op", "<>"),
                     ("str", 'a"b"c'), ("op", "&&"), ("var", "item"), ("op", "||"), ("num", 0x21C07000),
                     ("op", ">="), ("num", 12.5), ("end", None)]


def test_backslash_escapes_in_strings_as_the_default_rules_write_them():
    # "\\0ACNF:" in the default rules is the four characters \0ACNF: that a CNF RDN holds
    assert ev('"\\\\0ACNF:"') == "\\0ACNF:"
    assert ev('"a\\nb"') == "a\\nb"  # other backslashes stay as written (Replace reads \n itself)


def test_hex_literals_are_64_bit():
    assert ev("&H80000000") == 2147483648
    assert ev("&HFFFFFFFFFFFFFFFF") == -1
    assert ev("&hff") == 255


def test_ampersand_before_a_non_hex_word_is_concatenation():
    assert ev('"a"&"b"') == "ab"
    assert ev('[x]&"y"', {"x": ["H"]}) == "Hy"
    assert "position 5: unknown name 'HEADER'" in err('"a"&HEADER').problems[0]
    assert "longer than 64 bits" in err("&H10000000000000000").problems[0]


def test_arithmetic_operators_share_one_level_left_to_right_as_documented():
    assert ev("2+3*4") == 20
    assert ev("2*(5+3)") == 16
    assert ev("10-2-3") == 5
    assert ev("7/2") == 3.5
    assert ev("8/2") == 4
    assert ev("-3+5") == 2


def test_comparison_binds_tighter_than_and_which_binds_tighter_than_or():
    # IsPresent([sAMAccountName]) = False || ... must read (IsPresent(...) = False) || ...
    assert ev('IsPresent([s]) = False || [s] = "x"', {}) is True
    assert ev('IsPresent([s]) = False || [s] = "x"', {"s": ["y"]}) is False
    assert ev("True || False && False") is True  # && first
    assert ev('"a" & "b" = "ab"') is True  # & before =
    assert ev('1 + 1 & "x"') == "2x"


def test_logical_operators_stop_early():
    assert ev('False && Error("never")') is False
    assert ev('True || Error("never")') is True
    with pytest.raises(ErrorFunctionTriggered):
        ev('True && Error("now")')


def test_null_in_operators():
    assert ev('NULL & "x"') == "x"
    assert ev("NULL & NULL") is None
    assert ev('[missing] = "x"') is False
    assert ev('[missing] <> "x"') is True
    assert ev("NULL = NULL") is True
    assert ev("[missing] > 1") is False
    assert ev("[missing] + 1") is None
    assert ev("-[missing]") is None


def test_comparisons_across_types():
    assert ev('[n] = 2', {"n": ["2"]}) is True  # numeric text against a number
    assert ev('[n] > 10', {"n": ["9"]}) is False
    assert ev('[b] = True', {"b": ["TRUE"]}) is True
    assert ev('"abc" < "abd"') is True
    assert ev('"A" = "a"') is False  # binary comparison, as VBA's default
    assert ev('"a" + "b"') == "ab"
    with pytest.raises(RuleEvaluationError, match="division by zero"):
        ev("1/0")


def test_operators_apply_per_value_of_a_multi_valued_attribute():
    attrs = {"proxyAddresses": ["SMTP:a@x.com", "sip:a@x.com"]}
    assert ev('[proxyAddresses] & "!"', attrs) == ["SMTP:a@x.com!", "sip:a@x.com!"]
    assert ev('Left([proxyAddresses],4) = "sip:"', attrs) == [False, True]
    with pytest.raises(RuleEvaluationError, match="different lengths"):
        ev("[otherTelephone] & [proxyAddresses]", {**attrs, "otherTelephone": ["1"]})


def test_attribute_names_are_read_case_insensitively_and_dn_falls_back_to_distinguishedName():
    assert ev("[SAMACCOUNTNAME]", {"sAMAccountName": ["jdoe"]}) == "jdoe"
    assert ev("[dn]", {"distinguishedName": ["CN=a,DC=b"]}) == "CN=a,DC=b"
    assert ev("[dn]", {}, {"dn": "CN=c,DC=d"}) == "CN=c,DC=d"


def test_single_and_multi_valued_attribute_reads():
    assert ev("[sn]", {"sn": ["Doe"]}) == "Doe"
    assert ev("[proxyAddresses]", {"proxyAddresses": ["a"]}) == ["a"]  # known multi-valued: always a list
    assert ev("[x]", {"x": ["a", "b"]}) == ["a", "b"]  # more than one value: a list
    assert ev("[x]", {"x": []}) is None


def test_parameters_and_derived_ldap_names():
    ctx = {"Domain.FQDN": "sales.contoso.com", "Domain.Netbios": "SALES"}
    assert ev("%Domain.Netbios%", ctx=ctx) == "SALES"
    assert ev("%Domain.LDAP%", ctx=ctx) == "DC=sales,DC=contoso,DC=com"
    assert ev("%Domain.FQDN%", ctx={"domain_fqdn": "old.example"}) == "old.example"
    assert ev("%ReplaceString%", params={"ReplaceString": "a:b"}) == "a:b"
    assert ev("%Domain.FQDN%", ctx={"Domain.FQDN": "ctx.wins"}, params={"Domain.FQDN": "file"}) == "ctx.wins"
    assert ev("%Forest.FQDN%") is None


def test_constants():
    assert ev("CRLF") == "\r\n"
    assert ev("NULL") is None
    assert ev("AuthoritativeNull") is AUTHORITATIVE_NULL
    assert ev("IgnoreThisFlow") is IGNORE_THIS_FLOW
    assert ev("True") is True and ev("False") is False


def test_compiled_once_then_evaluated_many_times():
    fn = compile_expression('IIF(IsPresent([a]),UCase([a]),"none")')
    assert [fn({"a": [v]} if v else {}, {}) for v in ("x", None, "y")] == ["X", "none", "Y"]
    assert fn.attributes == ["a"]


def test_constant_parts_are_folded_but_failures_wait_for_run_time():
    assert ev('IIF(True, 1, CNum("abc"))') == 1  # the untaken branch would fail; compiling does not
    with pytest.raises(RuleEvaluationError, match="not a number"):
        ev('CNum("abc")')
    a, b = ev("Guid()"), ev("Guid()")
    assert a != b  # Guid, Now, RandomNum are never folded


# -- errors at compile time, with positions ----------------------------------------------------------

@pytest.mark.parametrize("text,position,fragment", [
    ("Trimm([x])", 1, "unknown function 'Trimm' (did you mean 'Trim'?)"),
    ("trim([x])", 1, "names are case-sensitive: did you mean 'Trim'?"),
    ("IIF([a],1)", 1, "IIF takes 3 arguments, not 2"),
    ("Trim([x],1)", 1, "Trim takes 1 argument, not 2"),
    ("Mid()", 1, "Mid takes 2 to 3 arguments, not 0"),
    ("IIF(1,2", 8, "expected ',' or ')'"),
    ('"abc', 1, "string not closed"),
    ("[abc", 1, "attribute reference not closed"),
    ("%abc", 1, "parameter not closed"),
    ("Foo", 1, "unknown name 'Foo'"),
    ("true", 1, "did you mean 'True'?"),
    ("$item", 1, "$item is not bound"),
    ("Switch(1,2,3)", 1, "condition/value pairs"),
    ("[a] [b]", 5, "unexpected '[b]'"),
    ("1 +", 4, "ends too early"),
    ("(1", 3, "expected ')'"),
    ("", 1, "empty"),
    ("ImportedValue([x])", 1, 'ImportedValue takes the attribute name in quotes'),
    ("Where([x],[y],True)", 7, "first argument must be a $variable"),
    ("\u201cabc\u201d", 1, "straight quotes"),
    ("1 # 2", 3, "unexpected character '#'"),
    ("Trim", 1, "Trim is a function"),
    ("12abc", 1, "malformed number"),
])
def test_syntax_errors_name_the_position(text, position, fragment):
    e = err(text)
    assert isinstance(e, ConfigError)
    assert f"position {position}:" in e.problems[0]
    assert fragment in e.problems[0]


def test_unknown_parameters_are_reported_when_the_known_set_is_given():
    with pytest.raises(ExpressionSyntaxError, match=r"unknown parameter %Domain.Fqdn% \(did you mean %Domain.FQDN%"):
        parse("%Domain.Fqdn%", {"Domain.FQDN", "Domain.Netbios"})
    assert ev("%Anything%") is None  # compile_expression alone accepts any parameter


def test_variables_are_bound_only_inside_their_function():
    assert ev("Where($v,[a],$v=\"x\")", {"a": ["x", "y"]}) == ["x"]
    e = err("Where($v,[a],True) & $v")
    assert "$v is not bound" in e.problems[0]


# -- conversion --------------------------------------------------------------------------------------

def test_cbool():
    assert ev("CBool([a] = [b])", {"a": ["x"], "b": ["x"]}) is True
    assert [ev(f"CBool({x})") for x in ('"True"', '"false"', "1", "0", '"0"', "NULL", "-1")] == \
        [True, False, True, False, False, False, True]
    assert ev("CBool([x])", {"x": ["TRUE", "0"]}) == [True, False]
    with pytest.raises(RuleEvaluationError, match="not a Boolean"):
        ev('CBool("maybe")')


def test_cdate():
    assert ev('CDate("2013-01-10 4:00 PM -8")') == dt.datetime(2013, 1, 11, 0, 0, tzinfo=UTC)
    assert ev('CDate("12/25/2007")') == dt.datetime(2007, 12, 25, tzinfo=UTC)
    assert ev('CDate("20140905081453.0Z")') == dt.datetime(2014, 9, 5, 8, 14, 53, tzinfo=UTC)
    assert ev('CDate("2001-01-01T10:00:00+02:00")') == dt.datetime(2001, 1, 1, 8, tzinfo=UTC)
    assert ev("CDate(NULL)") is None
    with pytest.raises(RuleEvaluationError, match="not a date"):
        ev('CDate("soon")')


def test_cguid_and_string_from_guid_round_trip_in_objectGUID_byte_order():
    g = "00001111-aaaa-2222-bbbb-3333cccc4444"
    raw = uuid.UUID(g).bytes_le
    assert ev(f'CGuid("{g}")') == raw
    assert ev(f'CGuid("{{{g}}}")') == raw
    assert ev("StringFromGuid([objectGUID])", {"objectGUID": [raw]}) == g
    assert ev("CGuid(NULL)") is None and ev("StringFromGuid(NULL)") is None
    with pytest.raises(RuleEvaluationError, match="not a GUID"):
        ev('CGuid("nope")')
    with pytest.raises(RuleEvaluationError, match="16 bytes"):
        ev("StringFromGuid([b])", {"b": [b"\x01\x02"]})


def test_base64_conversions():
    assert ev('ConvertToBase64("Hello world!")') == "SABlAGwAbABvACAAdwBvAHIAbABkACEA"  # Unicode (UTF-16LE)
    assert ev('ConvertFromBase64("SABlAGwAbABvACAAdwBvAHIAbABkACEA")') == "Hello world!"
    assert ev('ConvertFromBase64("SGVsbG8gd29ybGQh", UTF8)') == "Hello world!"
    assert ev('ConvertFromBase64("SGVsbG8gd29ybGQh", ASCII)') == "Hello world!"
    assert ev("ConvertToBase64([g])", {"g": [bytes(range(16))]}) == "AAECAwQFBgcICQoLDA0ODw=="  # binary as is
    assert ev("ConvertToBase64(NULL)") is None and ev("ConvertFromBase64(NULL)") is None
    assert ev("ConvertToBase64([proxyAddresses])", {"proxyAddresses": ["a", "b"]}) == ["YQA=", "YgA="]
    with pytest.raises(RuleEvaluationError, match="not base64"):
        ev('ConvertFromBase64("***")')
    with pytest.raises(RuleEvaluationError, match="unknown encoding"):
        ev('ConvertFromBase64("YQ==", "EBCDIC")')


def test_utf8_hex_conversions():
    assert ev('ConvertToUTF8Hex("Hello world!")') == "48656C6C6F20776F726C6421"
    assert ev('ConvertFromUTF8Hex("48656C6C6F20776F726C6421")') == "Hello world!"
    assert ev('ConvertToUTF8Hex("é")') == "C3A9"
    assert ev("ConvertToUTF8Hex(NULL)") is None and ev("ConvertFromUTF8Hex(NULL)") is None
    with pytest.raises(RuleEvaluationError):
        ev('ConvertFromUTF8Hex("zz")')


def test_cnum_cstr_cref():
    assert ev('CNum("42")') == 42 and ev('CNum("&H10")') == 16 and ev('CNum(" 1.5 ")') == 1.5
    assert ev("CNum(NULL)") is None
    assert ev("CNum([n])", {"n": ["1", "2"]}) == [1, 2]
    assert ev("CStr(5)") == "5" and ev("CStr(True)") == "True" and ev("CStr(NULL)") is None
    assert ev("CStr(2.0)") == "2"
    assert ev('CRef("CN=x,DC=y")') == "CN=x,DC=y" and ev("CRef(NULL)") is None
    with pytest.raises(RuleEvaluationError, match="binary value cannot be used as text"):
        ev("CStr([b])", {"b": [b"\x00"]})


def test_string_from_sid():
    sid = bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xE8, 3, 0, 0])
    assert ev("StringFromSid([objectSid])", {"objectSid": [sid]}) == "S-1-5-21-1-2-3-1000"
    assert ev("StringFromSid(NULL)") is None
    with pytest.raises(RuleEvaluationError, match="binary security identifier"):
        ev('StringFromSid("abc")')


# -- date and time -----------------------------------------------------------------------------------

def test_date_add():
    assert ev('DateAdd("m", 3, CDate("2001-01-01"))') == dt.datetime(2001, 4, 1, tzinfo=UTC)
    assert ev('DateAdd("m", 1, CDate("2001-01-31"))') == dt.datetime(2001, 2, 28, tzinfo=UTC)
    assert ev('DateAdd("yyyy", -1, CDate("2004-02-29"))') == dt.datetime(2003, 2, 28, tzinfo=UTC)
    assert ev('DateAdd("q", 1, CDate("2001-01-01"))') == dt.datetime(2001, 4, 1, tzinfo=UTC)
    assert ev('DateAdd("ww", 2, CDate("2001-01-01"))') == dt.datetime(2001, 1, 15, tzinfo=UTC)
    assert ev('DateAdd("h", 25, CDate("2001-01-01"))') == dt.datetime(2001, 1, 2, 1, tzinfo=UTC)
    assert ev('DateAdd("n", 90, CDate("2001-01-01"))') == dt.datetime(2001, 1, 1, 1, 30, tzinfo=UTC)
    assert ev('DateAdd("s", 5, CDate("2001-01-01"))') == dt.datetime(2001, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert ev('DateAdd("d", 1, NULL)') is None
    with pytest.raises(RuleEvaluationError, match="unknown interval"):
        ev('DateAdd("fortnight", 1, CDate("2001-01-01"))')


def test_date_from_num_and_back():
    assert ev("DateFromNum(129699324000000000)") == dt.datetime(2012, 1, 1, 23, 0, tzinfo=UTC)
    assert ev("DateFromNum([lastLogonTimestamp])", {"lastLogonTimestamp": ["129699324000000000"]}) == \
        dt.datetime(2012, 1, 1, 23, 0, tzinfo=UTC)
    assert ev('NumFromDate(CDate("2012-01-01 23:00:00"))') == 129699324000000000
    assert ev("DateFromNum(NULL)") is None and ev("NumFromDate(NULL)") is None
    assert ev("DateFromNum(9223372036854775807)") is None  # accountExpires "never"


def test_format_datetime():
    assert ev('FormatDateTime(CDate("12/25/2007"),"yyyy-MM-dd")') == "2007-12-25"
    assert ev('FormatDateTime(DateFromNum([pwdLastSet]),"yyyyMMddHHmmss.0Z")',
              {"pwdLastSet": [130543784930000000]}) == "20140905081453.0Z"
    assert ev('FormatDateTime(CDate("2007-03-04 15:06:07"),"d/M/yy h:mm tt \'at\' dddd")') == \
        "4/3/07 3:06 PM at Sunday"
    assert ev('FormatDateTime(NULL,"yyyy")') is None


def test_now_is_utc_and_current():
    before = dt.datetime.now(UTC)
    now = ev("Now()")
    assert before <= now <= dt.datetime.now(UTC)


# -- directory ---------------------------------------------------------------------------------------

def test_dn_component_and_rev():
    dn = {"dn": ["cn=Joe,ou=Atlanta,ou=GA,ou=US, dc=contoso,dc=com"]}
    assert ev("DNComponent(CRef([dn]),1)", dn) == "Joe"
    assert ev("DNComponentRev(CRef([dn]),3)", dn) == "US"
    assert ev('DNComponentRev(CRef([dn]),1,"DC")', dn) == "US"
    assert ev("DNComponentRev(CRef([dn]),1,DC)", dn) == "US"
    assert ev("DNComponent(CRef([dn]),9)", dn) is None
    assert ev("DNComponent(NULL,1)") is None
    # escapes are kept: the default rules look for \0ACNF: in the first component
    assert ev("DNComponent([dn],1)", {"dn": ["CN=Smith\\, John\\0ACNF:1,OU=x"]}) == "Smith\\, John\\0ACNF:1"


def test_escape_dn_component():
    assert ev('EscapeDNComponent("cn=" & [displayName]) & "," & %Forest.LDAP%', {"displayName": ["Smith, John"]},
              {"Forest.FQDN": "contoso.com"}) == "cn=Smith\\, John,DC=contoso,DC=com"
    assert ev('EscapeDNComponent(" #a+b ")') == "\\ #a\\+b\\ "  # RFC 4514: # only when it leads
    assert ev('EscapeDNComponent("#a;b<c>\\"")') == "\\#a\\;b\\<c\\>\\\""
    assert ev("EscapeDNComponent(NULL)") is None


# -- evaluation --------------------------------------------------------------------------------------

def test_is_bit_set():
    assert ev("IsBitSet(&HF,4)") is True
    assert ev("IsBitSet([uac],2)", {"uac": [514]}) is True and ev("IsBitSet([uac],2)", {"uac": [512]}) is False
    assert ev("IsBitSet(NULL,2)") is False


@pytest.mark.parametrize("fn,null,empty,text,many,number", [
    ("IsNull", True, False, False, False, False),
    ("IsNullOrEmpty", True, True, False, False, False),
    ("IsPresent", False, False, True, True, True),
    ("IsEmpty", False, True, False, False, False),
    ("IsString", False, True, True, False, True),
    ("IsNumeric", False, False, False, False, True),
    ("IsDate", False, False, False, False, False),
    ("IsGuid", False, False, False, [False, False], False),  # a string function: applied per value
])
def test_evaluation_functions_on_null_empty_text_lists_and_numbers(fn, null, empty, text, many, number):
    attrs = {"empty": [""], "text": ["abc"], "proxyAddresses": ["a", "b"], "num": [42]}
    assert ev(f"{fn}([missing])", attrs) is null
    assert ev(f"{fn}([empty])", attrs) is empty
    assert ev(f"{fn}([text])", attrs) is text
    assert ev(f"{fn}([proxyAddresses])", attrs) == many
    assert ev(f"{fn}([num])", attrs) is number


def test_evaluation_functions_on_their_own_kind():
    assert ev('IsDate("2012-01-01")') is True and ev("IsDate(Now())") is True
    assert ev('IsGuid("{00001111-aaaa-2222-bbbb-3333cccc4444}")') is True
    assert ev('IsGuid("{00001111-aaaa-2222-bbbb-3333cccc4444")') is False
    assert ev('IsNumeric("12")') is True and ev('IsNumeric("&HFF")') is True and ev("IsNumeric(True)") is False
    assert ev("IsString([b])", {"b": [b"\x00"]}) is False
    assert ev("IsEmpty([e])", {"e": ["", ""]}) is True
    assert ev("IsNull(AuthoritativeNull)") is True


# -- math --------------------------------------------------------------------------------------------

def test_bit_and_bit_or():
    assert ev("BitAnd(&HF, &HF7)") == 7
    assert ev("BitOr(&HF0, 3)") == 0xF3
    assert ev("BitAnd([groupType],&H80000000)", {"groupType": [-2147483646]}) == 0x80000000  # signed AD value
    assert ev("BitAnd([groupType],&H80000000)", {"groupType": ["-2147483646"]}) == 0x80000000  # as text
    assert ev("BitAnd(NULL,2)") is None and ev("BitOr(2,NULL)") is None
    assert ev("BitAnd([f],1)", {"f": ["1", "2"]}) == [1, 0]


def test_random_num_stays_in_range():
    assert all(100 <= ev("RandomNum(100,999)") <= 999 for _ in range(50))


# -- multi-valued ------------------------------------------------------------------------------------

PROXY = {"proxyAddresses": ["smtp:jd@contoso.com", "SMTP:john.doe@contoso.com", "sip:jd@contoso.com"]}


def test_contains():
    assert ev('Contains([proxyAddresses],"SMTP:")', PROXY) == 2  # case-sensitive substring
    assert ev('Contains([proxyAddresses],"SMTP:",CaseInsensitive)', PROXY) == 1
    assert ev('Contains([proxyAddresses],"x400:")', PROXY) == 0
    assert ev('Contains([missing],"x")') == 0
    assert ev('Contains([mail],"contoso")', {"mail": ["a@contoso.com"]}) == 1  # a single value counts as one
    member = {"member": ["CN=Ann,DC=x", "CN=Bob,DC=x"]}
    assert ev('Contains([member],"CN=Bob,DC=x")', member) == 2
    assert ev('Contains([member],"Bob")', member) == 0  # references match whole values only


def test_count_item_item_or_null():
    assert ev("Count([proxyAddresses])", PROXY) == 3
    assert ev("Count([missing])") == 0 and ev("Count([sn])", {"sn": ["x"]}) == 1
    assert ev("Item([proxyAddresses],2)", PROXY) == "SMTP:john.doe@contoso.com"
    assert ev('Mid(Item([proxyAddresses],Contains([proxyAddresses], "SMTP:")),6)', PROXY) == "john.doe@contoso.com"
    with pytest.raises(RuleEvaluationError, match="out of bounds"):
        ev("Item([proxyAddresses],4)", PROXY)
    with pytest.raises(RuleEvaluationError, match="out of bounds"):
        ev("Item([missing],1)")
    assert ev("ItemOrNull([proxyAddresses],0)", PROXY) is None
    assert ev("ItemOrNull([missing],1)") is None
    assert ev("ItemOrNull([proxyAddresses],3)", PROXY) == "sip:jd@contoso.com"


def test_join_split_remove_duplicates():
    assert ev('Join([proxyAddresses],",")', PROXY) == ",".join(PROXY["proxyAddresses"])
    assert ev("Join([otherTelephone])", {"otherTelephone": ["1", "2"]}) == "1 2"
    assert ev('Join([otherTelephone],"")', {"otherTelephone": ["1", "2"]}) == "12"
    assert ev("Join([missing])") is None
    assert ev('Split("SMTP:john.doe@contoso.com,smtp:jd@contoso.com",",")') == \
        ["SMTP:john.doe@contoso.com", "smtp:jd@contoso.com"]
    assert ev('Split("a,b,c",",",2)') == ["a", "b,c"]
    assert ev('Split(NULL,",")') is None
    assert ev('RemoveDuplicates([proxyAddresses])', {"proxyAddresses": ["a", "A", "a", "b"]}) == ["a", "A", "b"]
    assert ev("RemoveDuplicates([missing])") is None
    assert ev("RemoveDuplicates(Trim([proxyAddresses]))", {"proxyAddresses": [" a", "a "]}) == ["a"]


# -- program flow ------------------------------------------------------------------------------------

def test_error_raises_at_evaluation_with_the_message():
    fn = compile_expression('IIF(IsPresent([accountName]),[accountName],Error("AccountName is required"))')
    assert fn({"accountName": ["x"]}, {}) == "x"
    with pytest.raises(ErrorFunctionTriggered, match="AccountName is required") as e:
        fn({}, {})
    assert isinstance(e.value, PyBridgeError) and e.value.error_code == "sync-rule-error-function-triggered"


def test_iif():
    assert ev('IIF([employeeType]="Intern","t-" & [alias],[alias])', {"employeeType": ["Intern"], "alias": ["jd"]}) \
        == "t-jd"
    assert ev('IIF([employeeType]="Intern","t-" & [alias],[alias])', {"alias": ["jd"]}) == "jd"
    assert ev("IIF(NULL,1,2)") == 2
    # per value: drop the SIP address from proxyAddresses
    assert ev('IIF(InStr([proxyAddresses],"sip:")=1,NULL,[proxyAddresses])', PROXY) == PROXY["proxyAddresses"][:2]


def test_switch():
    expr = 'Switch([city] = "London", "English", [city] = "Rome", "Italian", True, Error("Unknown city"))'
    assert ev(expr, {"city": ["Rome"]}) == "Italian"
    with pytest.raises(ErrorFunctionTriggered, match="Unknown city"):
        ev(expr, {"city": ["Oslo"]})
    assert ev('Switch([a]="x",1)', {}) is None
    assert ev('Switch(IsPresent([m]),[m],IsPresent([s]),[s])', {"s": ["skip"]}) == "skip"


def test_select_where_with():
    phones = {"otherTelephone": ["555-1234", "555-99"]}
    assert ev('Select($item,[otherTelephone],Replace($item,"-",""))', phones) == ["5551234", "55599"]
    assert ev('Where($item,[proxyAddresses],Left($item,5)="smtp:")', PROXY) == ["smtp:jd@contoso.com"]
    assert ev('Where($item,[missing],True)') is None
    assert ev('Where($item,[proxyAddresses],False)', PROXY) is None
    assert ev('Select($x,Split("a b"," "),UCase($x))') == ["A", "B"]
    assert ev('With($smtp,Where($i,[proxyAddresses],InStr($i,"SMTP:",1,vbTextCompare)=1),'
              'IIF(Count($smtp)>0,$smtp,NULL))', PROXY) == PROXY["proxyAddresses"][:2]
    # a variable shadowed inside and restored after
    assert ev('With($v,"outer",Select($v,Split("a,b",","),UCase($v)) & "")') == ["A", "B"]
    assert ev('With($v,"outer",Join(Select($v,Split("a,b",","),UCase($v))) & $v)') == "A Bouter"


def test_imported_value():
    assert ev('RemoveDuplicates(Trim(ImportedValue("proxyAddresses")))', {"proxyAddresses": [" a", "a"]}) == ["a"]
    ctx = {"imported": {"ProxyAddresses": ["x", "y"], "sn": ["Old"]}}
    assert ev('ImportedValue("proxyAddresses")', {"proxyAddresses": ["new"]}, ctx) == ["x", "y"]
    assert ev('ImportedValue("sn")', {"sn": ["New"]}, ctx) == "Old"
    assert ev('ImportedValue("mail")', {"mail": ["m"]}, ctx) is None


# -- text --------------------------------------------------------------------------------------------

def test_instr_and_instrrev():
    assert ev('InStr("The quick brown fox","quick")') == 5
    assert ev('InStr("repEated","e",3,vbBinaryCompare)') == 7
    assert ev('InStr("repEated","e",3,vbTextCompare)') == 4
    assert ev('InStr("abc","z")') == 0 and ev('InStr(NULL,"z")') == 0
    assert ev('InStrRev("abbcdbbbef","bb")') == 7
    assert ev('InStrRev("abbcdbbbef","bb",5)') == 2
    assert ev('InStrRev("ABC","b",-1,vbTextCompare)') == 2
    assert ev('InStrRev(NULL,"b")') == 0
    assert ev('InStr([proxyAddresses],"sip:")', PROXY) == [0, 0, 1]
    with pytest.raises(RuleEvaluationError, match="start 0"):
        ev('InStr("abc","b",0)')


def test_case_and_trim():
    assert ev('LCase("TeSt")') == "test" and ev('UCase("TeSt")') == "TEST"
    assert ev("LCase(NULL)") is None and ev("UCase(NULL)") is None
    assert ev('Trim(" Test ")') == "Test" and ev('LTrim(" Test ")') == "Test " and ev('RTrim(" Test ")') == " Test"
    assert ev("Trim(NULL)") is None and ev("LTrim(NULL)") is None and ev("RTrim(NULL)") is None
    assert ev("Trim([proxyAddresses])", {"proxyAddresses": [" a ", "b "]}) == ["a", "b"]
    assert ev("UCase([proxyAddresses])", {"proxyAddresses": ["a", "b"]}) == ["A", "B"]


def test_left_right_mid_as_documented():
    assert ev('Left("John Doe", 3)') == "Joh"
    assert ev('Left("John Doe", 0)') == "" and ev('Left("John Doe", -1)') == "John Doe"
    assert ev("Left(NULL, 3)") == "" and ev('Left("Jo", 5)') == "Jo"
    assert ev('Right("John Doe", 3)') == "Doe"
    assert ev('Right("John Doe", 0)') == "" and ev('Right("John Doe", -1)') == "John Doe"
    assert ev("Right(NULL, 3)") == "" and ev('Right("Jo", 5)') == "Jo"
    assert ev('Mid("John Doe", 3, 5)') == "hn Do" and ev('Mid("John Doe", 6, 999)') == "Doe"
    assert ev('Mid("John Doe", 3, 0)') == "" and ev('Mid("John Doe", 3, -1)') == "John Doe"
    assert ev('Mid("John Doe", 99, 2)') == "John Doe" and ev('Mid("John Doe", 0, 2)') == "John Doe"
    assert ev("Mid(NULL, 1, 2)") == ""
    assert ev('Mid("SMTP:a@b", 6)') == "a@b"  # two arguments: to the end (Microsoft's own example)


def test_len():
    assert ev('Len("John Doe")') == 8 and ev("Len(NULL)") == 0 and ev('Len("")') == 0
    assert ev("Len([proxyAddresses])", {"proxyAddresses": ["ab", "c"]}) == [2, 1]


def test_pad():
    assert ev('PadLeft("User", 10, "0")') == "000000User"
    assert ev('PadRight("User", 10, "0")') == "User000000"
    assert ev('PadLeft("User", 2, "0")') == "User" and ev('PadRight("User", 4, " ")') == "User"
    assert ev('PadLeft(NULL, 3, "0")') == "" and ev('PadRight(NULL, 3, "0")') == ""
    with pytest.raises(RuleEvaluationError, match="cannot be null"):
        ev('PadLeft("a", 3, NULL)')
    with pytest.raises(RuleEvaluationError, match="one character"):
        ev('PadRight("a", 3, "xy")')


def test_pcase():
    assert ev('PCase("TEsT")') == "Test"
    assert ev('PCase(LCase("TEST"))') == "Test"
    assert ev('PCase("TEST")') == "TEST"  # an all-capital word is left alone (acronyms), as documented
    assert ev('PCase("jean-luc  PICARD of USS")') == "Jean-luc  PICARD Of USS"
    assert ev("PCase(NULL)") is None


def test_replace_and_replace_chars():
    assert ev('Replace([address],"\\r\\n",", ")', {"address": ["One Microsoft Way\r\nRedmond"]}) == \
        "One Microsoft Way, Redmond"
    assert ev('Replace("a-b-c","-","")') == "abc" and ev('Replace("abc","","x")') == "abc"
    assert ev('Replace(NULL,"a","b")') is None
    params = {"ReplaceString": "\u2019:,Å:A,Ä:A,Ö:O,å:a,ä:a,ö:o"}
    assert ev('ReplaceChars("Räksmörgås",%ReplaceString%)', params=params) == "Raksmorgas"
    assert ev('ReplaceChars("O\u2019Neil",%ReplaceString%)', params=params) == "ONeil"
    assert ev('ReplaceChars("ab", " a : x , b:y ")') == "xy"  # white space in the pattern is ignored
    assert ev('ReplaceChars(NULL,"a:b")') is None
    with pytest.raises(RuleEvaluationError, match="one character"):
        ev('ReplaceChars("ab","ab:x")')


def test_word():
    assert ev('Word("The quick brown fox",3," ")') == "brown"
    assert ev('Word("This,string!has&many separators",3,",!&#")') == "has"
    assert ev('Word("a b",0," ")') == "" and ev('Word("a b",5," ")') == "" and ev('Word(NULL,1," ")') == ""
    assert ev('Word([proxyAddresses],1,"@") & "@fabrikam.com"', {"proxyAddresses": ["smtp:a@x", "smtp:b@y"]}) == \
        ["smtp:a@fabrikam.com", "smtp:b@fabrikam.com"]


def test_guid_function_makes_guid_text():
    assert uuid.UUID(ev("Guid()"))


def test_every_function_of_the_brief_is_implemented():
    wanted = """CBool CDate CGuid ConvertFromBase64 ConvertToBase64 ConvertFromUTF8Hex ConvertToUTF8Hex CNum CStr
        StringFromGuid StringFromSid DateAdd DateFromNum FormatDateTime Now NumFromDate DNComponent DNComponentRev
        EscapeDNComponent IsBitSet IsDate IsEmpty IsGuid IsNull IsNullOrEmpty IsNumeric IsPresent IsString BitAnd
        BitOr Contains Count Item ItemOrNull Join RemoveDuplicates Split Error IIF Select Switch Where With InStr
        InStrRev LCase Left Len LTrim Mid PadLeft PadRight PCase Replace ReplaceChars Right RTrim Trim UCase Word
        ImportedValue CRef Guid RandomNum""".split()
    assert sorted(set(wanted) - set(FUNCTIONS)) == []


def test_a_type_error_names_the_function_and_position():
    with pytest.raises(RuleEvaluationError, match=r"BitAnd \(position 6\): \"abc\" is not a number"):
        ev('Trim(BitAnd("abc",1))')
