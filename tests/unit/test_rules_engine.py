"""The rules engine and loader: every problem reported at load with file, line, rule, key and position; scoping
operators; join; precedence and merge (NULL, AuthoritativeNull, IgnoreThisFlow, Merge, MergeCaseInsensitive); the
explanation of each attribute; errors at sync naming the rule."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pybridge.core.rules import ErrorFunctionTriggered, RuleError, RuleEvaluationError, RuleSet
from pybridge.core.rules import expression as expression_module
from pybridge.errors import ConfigError

JOIN = """
  - name: Join
    direction: inbound
    source_object_type: user
    target_object_type: person
    link_type: Provision
    precedence: 10
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def load(tmp_path: Path, text: str, name: str = "rules.yaml", defaults: bool = False) -> RuleSet:
    return RuleSet.load([write(tmp_path, text, name)], include_defaults=defaults)


def problems(tmp_path: Path, text: str, name: str = "rules.yaml") -> list[str]:
    with pytest.raises(RuleError) as e:
        load(tmp_path, text, name)
    assert isinstance(e.value, ConfigError)
    return e.value.problems


def rules_with(*flow_rules: str) -> str:
    return "rules:\n" + JOIN + "".join(flow_rules)


def flow_rule(name: str, precedence: int, flows: str, scope: str = "", extra: str = "") -> str:
    text = f"""
  - name: {name}
    direction: inbound
    source_object_type: user
    target_object_type: person
    precedence: {precedence}
{extra}"""
    if scope:
        text += "    scope:\n" + textwrap.indent(textwrap.dedent(scope), "      ")
    text += "    flows:\n" + textwrap.indent(textwrap.dedent(flows), "      ")
    return text


# -- loading and its problems ------------------------------------------------------------------------

def test_every_problem_is_listed_with_file_line_rule_and_key(tmp_path):
    found = problems(tmp_path, """
    rules:
      - name: Broken
        direction: sideways
        source_object_type: user
        target_object_type: person
        precedance: 5
        scope:
          - - {attribute: uac, operator: BITSET, value: 2}
        flows:
          - {target: a, type: Expression, expression: "Trimm([x])"}
          - {target: b, type: Expression, expression: "IIF([x],1)"}
          - {target: c, type: Expression, expression: "%Domian.FQDN%"}
          - {target: d, type: Direct, source: x, expression: "[y]"}
          - {target: e, type: Sometimes}
      - name: Second
        direction: inbound
        source_object_type: user
        target_object_type: person
        precedence: 7
        flows:
          - {target: x, expression: 'Left([sn], 2'}
    """, name="broken.yaml")
    text = "\n".join(found)
    assert all(p.startswith(str(tmp_path / "broken.yaml") + ":") for p in found)
    assert 'broken.yaml:3: rule "Broken": precedance: unknown key (did you mean "precedence"?)' in text
    assert 'rule "Broken": direction: "sideways" is not one of inbound, outbound' in text
    assert 'rule "Broken": precedence: is required' in text
    assert 'scope[0][0].operator: "BITSET" is not one of EQUAL' in text
    assert "flows[0].expression: position 1: unknown function 'Trimm' (did you mean 'Trim'?)" in text
    assert "flows[1].expression: position 1: IIF takes 3 arguments, not 2" in text
    assert "flows[2].expression: position 1: unknown parameter %Domian.FQDN% (did you mean %Domain.FQDN%?)" in text
    assert "flows[3].expression: does not apply to a Direct flow" in text
    assert 'flows[4].type: "Sometimes" is not one of Direct, Constant, Expression' in text
    assert 'broken.yaml:22: rule "Second": flows[0].expression: position 13: expected' in text
    assert len(found) == 10


def test_problems_between_rules_and_files(tmp_path):
    write(tmp_path, rules_with(flow_rule("A", 20, "- {target: sn, merge: Merge}")), "a.yaml")
    write(tmp_path, """
    rules:
      - name: B
        direction: inbound
        source_object_type: user
        target_object_type: person
        precedence: 20
        flows:
          - {target: sn, merge: Update}
      - {name: Nobody, enabled: false}
      - name: B
        direction: inbound
        source_object_type: user
        target_object_type: person
        precedence: 21
    """, "b.yaml")
    with pytest.raises(RuleError) as e:
        RuleSet.load([tmp_path], include_defaults=False)
    text = "\n".join(e.value.problems)
    assert 'rule "Nobody": changes a rule that does not exist' in text
    assert 'rule "B": name: is defined twice in this file' in text
    assert 'rule "B": precedence: 20 is already the precedence of "A"' in text
    assert 'rule "B": flows.sn.merge: Update differs from Merge in "A"' in text


def test_yaml_and_file_problems(tmp_path):
    bad = write(tmp_path, "rules:\n  - name: [unclosed\n", "bad.yaml")
    with pytest.raises(RuleError) as e:
        RuleSet.load([bad, tmp_path / "missing.yaml"], include_defaults=False)
    text = "\n".join(e.value.problems)
    assert "bad.yaml:3: is not valid YAML" in text or "bad.yaml:2: is not valid YAML" in text
    assert "missing.yaml: no such file or directory" in text
    assert problems(tmp_path, "rules: {}\nextra: 1\n") == [
        f"{tmp_path / 'rules.yaml'}:1: extra: unknown key (a rules file holds 'rules' and 'parameters')",
        f"{tmp_path / 'rules.yaml'}:1: rules: must be a list of rules"]


@pytest.mark.parametrize("clause,message", [
    ("{attribute: uac, operator: ISBITSET, value: two}", "ISBITSET needs a number"),
    ("{attribute: mail, operator: ISNULL, value: x}", "ISNULL takes no value"),
    ("{attribute: mail, operator: EQUAL}", "EQUAL needs a value"),
    ("{attribute: memberOf, operator: ISMEMBEROF, value: 'not a dn'}", "is not a distinguished name"),
    ("{operator: EQUAL, value: x}", "attribute: is required"),
    ("'just-one-word'", "must read \"attribute OPERATOR value\""),
])
def test_scope_clause_problems(tmp_path, clause, message):
    found = problems(tmp_path, rules_with(flow_rule("R", 20, "- {target: sn}", scope=f"- - {clause}\n")))
    assert any(message in p for p in found), found


def test_rule_error_is_raised_before_any_object_is_synced_and_carries_all_problems(tmp_path):
    with pytest.raises(RuleError) as e:
        load(tmp_path, rules_with(flow_rule("R", 20, "- {target: a, expression: 'Foo(1)'}\n"
                                                      "- {target: b, expression: 'Bar(2)'}")))
    assert e.value.message.startswith("2 problems in the sync rules:")
    assert len(e.value.problems) == 2


def test_a_rule_with_the_name_of_an_existing_one_replaces_it_and_a_short_entry_changes_it(tmp_path):
    base = write(tmp_path, rules_with(flow_rule("Common", 30, "- {target: sn}"),
                                      flow_rule("Other", 31, "- {target: givenName}")), "1.yaml")
    override = write(tmp_path, """
    rules:
      - name: Common
        direction: inbound
        source_object_type: user
        target_object_type: person
        precedence: 30
        flows:
          - {target: sn, type: Constant, value: Replaced}
      - {name: Other, enabled: false}
      - {name: Join, precedence: 11}
    """, "2.yaml")
    rs = RuleSet.load([base, override], include_defaults=False)
    assert rs.get("join").precedence == 11
    out = rs.inbound("c", "user", {"sn": ["Doe"], "givenName": ["J"]}, {})
    assert out.values == {"sn": "Replaced"}
    assert out.out_of_scope == ["Other (Sync rule disabled)"]
    assert [r.name for r in rs.rules] == ["Join", "Common", "Other"]


def test_a_directory_is_read_in_name_order_and_parameters_are_shared(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    write(d, "parameters:\n  Suffix: '@fabrikam.com'\n", "00-params.yml")
    write(d, rules_with(flow_rule("R", 20, "- {target: mail, expression: '[sAMAccountName] & %Suffix%'}")),
          "10-rules.yaml")
    (d / "README.md").write_text("not a rules file")
    rs = RuleSet.load([d], include_defaults=False)
    assert rs.inbound("c", "user", {"sAMAccountName": ["jd"]}, {}).values == {"mail": "jd@fabrikam.com"}
    assert rs.inbound("c", "user", {"sAMAccountName": ["jd"]}, {"Suffix": "@ctx"}).values == {"mail": "jd@ctx"}


def test_expressions_are_compiled_at_load_not_per_object(tmp_path, monkeypatch):
    rs = load(tmp_path, rules_with(flow_rule("R", 20, "- {target: sn, expression: 'UCase(Trim([sn]))'}")))

    def no_parsing(*a, **k):
        raise AssertionError("parsed during a sync")
    monkeypatch.setattr(expression_module, "tokenize", no_parsing)
    monkeypatch.setattr(expression_module, "parse", no_parsing)
    for name in ("a", "b", "c"):
        assert rs.inbound("c", "user", {"sn": [f" {name} "]}, {}).values == {"sn": name.upper()}


# -- scoping -----------------------------------------------------------------------------------------

ATTRS = {"department": ["Sales"], "uac": [514], "proxyAddresses": ["smtp:a@x", "SMTP:b@x"], "count": ["12"],
         "memberOf": ["CN=Pilot\\, Sync,OU=G,DC=contoso,DC=com"], "empty": [""]}


@pytest.mark.parametrize("clause,expected", [
    ("department EQUAL sales", True),  # string compares ignore case
    ("department EQUAL Marketing", False),
    ("missing EQUAL x", False),
    ("department NOTEQUAL Marketing", True),
    ("missing NOTEQUAL x", True),  # absent is not equal: cloudFiltered NOTEQUAL True holds when absent
    ("count LESSTHAN 100", True),  # numbers compare as numbers
    ("count LESSTHAN_OR_EQUAL 12", True),
    ("count GREATERTHAN 12", False),
    ("count GREATERTHAN_OR_EQUAL 12", True),
    ("department LESSTHAN T", True),
    ("missing GREATERTHAN 1", False),
    ("department STARTSWITH sa", True),
    ("department NOTSTARTSWITH User_", True),
    ("missing NOTSTARTSWITH User_", True),
    ("department NOTSTARTWITH Sa", False),  # the Rules Editor's spelling
    ("department ENDSWITH LES", True),
    ("department NOTENDSWITH s", False),
    ("department CONTAINS ale", True),
    ("department NOTCONTAINS ale", False),
    ("missing CONTAINS a", False),
    ("proxyAddresses CONTAINS SMTP:B", True),  # any value of a multi-valued attribute
    ("missing ISNULL", True),
    ("empty ISNULL", True),
    ("department ISNULL", False),
    ("department ISNOTNULL", True),
    ("uac ISBITSET 2", True),
    ("uac ISBITSET &H200", True),
    ("uac ISBITNOTSET 2", False),
    ("uac ISNOTBITSET 16", True),
    ("missing ISBITNOTSET 2", True),
    ("memberOf ISMEMBEROF cn=pilot\\, sync,ou=g,dc=contoso,dc=com", True),  # DNs compare canonically
    ("memberOf ISNOTMEMBEROF CN=Other,DC=contoso,DC=com", True),
    ("proxyAddresses ISIN smtp:a@x", True),
    ("proxyAddresses ISNOTIN smtp:a@x", False),
])
def test_scope_operators(tmp_path, clause, expected):
    rs = load(tmp_path, rules_with(flow_rule("R", 20, "- {target: ok, value: hit}", scope=f"- - '{clause}'\n")))
    out = rs.inbound("c", "user", ATTRS, {})
    assert (out.values.get("ok") == "hit") is expected, out.out_of_scope


def test_groups_are_ored_and_clauses_anded_and_the_explanation_lists_the_failed_clauses(tmp_path):
    scope = """\
    - - {attribute: department, operator: EQUAL, value: Sales}
      - {attribute: uac, operator: ISBITNOTSET, value: 2}
    - - {attribute: title, operator: ISNOTNULL}
    """
    rs = load(tmp_path, rules_with(flow_rule("Enabled sales", 20, "- {target: ok, value: hit}", scope=scope)))
    out = rs.inbound("c", "user", ATTRS, {})
    assert out.values == {}
    assert out.out_of_scope == ["Enabled sales (Scope conditions not satisfied: [uac ISBITNOTSET 2] OR "
                                "[title ISNOTNULL])"]
    assert rs.inbound("c", "user", {**ATTRS, "title": ["Boss"]}, {}).values == {"ok": "hit"}
    assert rs.inbound("c", "user", {**ATTRS, "uac": [512]}, {}).values == {"ok": "hit"}


def test_rules_apply_to_their_connector_and_object_type(tmp_path):
    rs = load(tmp_path, rules_with(flow_rule("Fabrikam only", 20, "- {target: ok, value: hit}",
                                             extra="    connector: Fabrikam.com\n")))
    assert rs.inbound("fabrikam.com", "user", {}, {}).values == {"ok": "hit"}
    assert rs.inbound("contoso.com", "user", {}, {}).values == {}
    assert rs.inbound("contoso.com", "user", {}, {}).out_of_scope == []  # other connectors' rules are not candidates
    assert rs.inbound("fabrikam.com", "USER", {}, {}).values == {"ok": "hit"}


# -- join --------------------------------------------------------------------------------------------

def test_no_join_rule_in_scope_excludes_the_object(tmp_path):
    text = rules_with(flow_rule("R", 20, "- {target: ok, value: hit}")).replace(
        "    precedence: 10\n", "    precedence: 10\n    scope:\n      - - 'adminDescription NOTSTARTSWITH User_'\n", 1)
    rs = load(tmp_path, text)
    out = rs.inbound("c", "user", {"adminDescription": ["User_abc"]}, {})
    assert out.excluded == ("Join", 'Scope conditions not satisfied: [adminDescription NOTSTARTSWITH User_] '
                                    '(adminDescription = "User_abc")')
    assert out.values == {} and out.mv_type is None
    assert out.out_of_scope == ["Join (Scope conditions not satisfied: [adminDescription NOTSTARTSWITH User_])"]
    assert rs.inbound("c", "group", {}, {}).excluded[0] == "(no sync rule)"


def test_a_disabled_join_rule_excludes_the_object(tmp_path):
    base = write(tmp_path, rules_with(flow_rule("R", 20, "- {target: ok, value: hit}")))
    off = write(tmp_path, "rules:\n  - {name: Join, enabled: false}\n", "off.yaml")
    out = RuleSet.load([base, off], include_defaults=False).inbound("c", "user", {}, {})
    assert out.excluded == ("Join", "Sync rule disabled")
    assert out.out_of_scope == ["Join (Sync rule disabled)"]


def test_two_join_rules_in_scope_are_an_error_at_sync(tmp_path):
    second = JOIN.replace("name: Join", "name: Join again").replace("precedence: 10", "precedence: 11")
    rs = load(tmp_path, rules_with(second))
    with pytest.raises(RuleEvaluationError, match='"Join", "Join again"'):
        rs.inbound("c", "user", {}, {})


def test_a_true_cloud_filtered_excludes_the_object_and_says_which_condition_held(tmp_path):
    rs = load(tmp_path, rules_with(flow_rule("Filter", 20, """\
        - target: cloudFiltered
          expression: 'IIF(IsPresent([isCriticalSystemObject]) || Left([sAMAccountName],4) = "AAD_", True, NULL)'
        """)))
    out = rs.inbound("c", "user", {"sAMAccountName": ["AAD_1234"]}, {})
    assert out.excluded == ("Filter", 'cloudFiltered is True because Left([sAMAccountName],4) = "AAD_" '
                                      '(sAMAccountName = "AAD_1234")')
    assert out.values["cloudFiltered"] is True
    assert rs.inbound("c", "user", {"sAMAccountName": ["jd"]}, {}).excluded is None


# -- precedence and merge ----------------------------------------------------------------------------

def test_lower_precedence_number_wins_and_null_lets_the_next_rule_contribute(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("Low", 30, "- {target: displayName, expression: '[cn]'}"),
        flow_rule("High", 20, "- {target: displayName, expression: 'IIF(IsPresent([displayName]),[displayName],NULL)'}"),
    ))
    out = rs.inbound("AD", "user", {"cn": ["CN"], "displayName": ["Display"]}, {})
    assert out.values == {"displayName": "Display"}
    (info,) = out.info
    assert (info.name, info.value, info.sync_rule, info.mapping_type, info.data_source, info.operation,
            info.is_multi_valued, info.type) == ("displayName", "Display", "High", "Expression", "AD", "Add", False,
                                                 "String")
    out = rs.inbound("AD", "user", {"cn": ["CN"]}, {})
    assert out.values == {"displayName": "CN"} and out.info[0].sync_rule == "Low"


def test_authoritative_null_clears_even_when_a_lower_rule_has_a_value(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("Low", 30, "- {target: mail, expression: '[mail]'}"),
        flow_rule("High", 20, "- {target: mail, expression: 'IIF([hide]=True,AuthoritativeNull,NULL)'}"),
    ))
    out = rs.inbound("AD", "user", {"mail": ["a@x"], "hide": [True]}, {})
    assert out.values == {}
    assert [(i.name, i.operation, i.sync_rule, i.value) for i in out.info] == [("mail", "Delete", "High", None)]
    assert "mail" in out.managed
    assert rs.inbound("AD", "user", {"mail": ["a@x"]}, {}).values == {"mail": "a@x"}


def test_ignore_this_flow_acts_as_if_the_flow_were_absent(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("Only", 20, "- {target: extensionAttribute1, expression: 'IIF([x]=True,\"set\",IgnoreThisFlow)'}")))
    out = rs.inbound("AD", "user", {}, {})
    assert out.values == {} and out.info == [] and out.managed == set()
    out = rs.inbound("AD", "user", {"x": [True]}, {})
    assert out.values == {"extensionAttribute1": "set"} and out.managed == {"extensionAttribute1"}


def test_merge_unions_values_across_rules_case_sensitively(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("A", 20, "- {target: proxyAddresses, expression: '[proxyAddresses]', merge: Merge}"),
        flow_rule("B", 30, "- {target: proxyAddresses, expression: '[otherAddresses]', merge: Merge}"),
    ))
    out = rs.inbound("AD", "user", {"proxyAddresses": ["SMTP:a@x", "smtp:b@x"],
                                    "otherAddresses": ["smtp:B@x", "smtp:b@x", "x500:c"]}, {})
    assert out.values == {"proxyAddresses": ["SMTP:a@x", "smtp:b@x", "smtp:B@x", "x500:c"]}
    assert [(i.sync_rule, i.add) for i in out.info] == [("A", "SMTP:a@x; smtp:b@x"), ("B", "smtp:B@x; x500:c")]
    assert all(i.is_multi_valued for i in out.info)


def test_merge_case_insensitive_drops_values_differing_only_in_case(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("A", 20, "- {target: proxyAddresses, expression: '[proxyAddresses]', merge: MergeCaseInsensitive}"),
        flow_rule("B", 30, "- {target: proxyAddresses, expression: '[otherAddresses]', merge: MergeCaseInsensitive}"),
    ))
    out = rs.inbound("AD", "user", {"proxyAddresses": ["smtp:bob@contoso.com"],
                                    "otherAddresses": ["SMTP:BOB@contoso.com", "x500:c"]}, {})
    assert out.values == {"proxyAddresses": ["smtp:bob@contoso.com", "x500:c"]}


def test_update_on_a_multi_valued_target_takes_the_winning_rules_values(tmp_path):
    rs = load(tmp_path, rules_with(
        flow_rule("A", 20, "- {target: proxyAddresses, expression: '[proxyAddresses]'}"),
        flow_rule("B", 30, "- {target: proxyAddresses, expression: '[otherAddresses]'}"),
    ))
    out = rs.inbound("AD", "user", {"proxyAddresses": ["a"], "otherAddresses": ["b"]}, {})
    assert out.values == {"proxyAddresses": ["a"]}


def test_values_take_the_targets_shape(tmp_path):
    rs = load(tmp_path, rules_with(flow_rule("R", 20, """\
        - {target: otherTelephone, expression: '[telephoneNumber]'}
        - {target: telephoneNumber, expression: '[otherTelephone]'}
        - {target: title, expression: 'Trim([title])'}
        - {target: tags, value: [a, b]}
        - {target: flag, value: true}
        - {target: count, expression: 'Len([title])'}
        - {target: guid, type: Direct, source: objectGUID}
        """)))
    out = rs.inbound("AD", "user", {"telephoneNumber": ["1"], "otherTelephone": ["2", "3"], "title": ["   "],
                                    "objectGUID": [b"\x01" * 16]}, {})
    assert out.values == {"otherTelephone": ["1"], "telephoneNumber": "2", "tags": ["a", "b"], "flag": True,
                          "count": 3, "guid": b"\x01" * 16}  # "" (Trim of blanks) is null
    types = {i.name: (i.type, i.value) for i in out.info}
    assert types["flag"] == ("Boolean", "True") and types["count"] == ("Integer", "3")
    assert types["guid"] == ("Binary", "AQEBAQEBAQEBAQEBAQEBAQ==")


def test_error_function_and_bad_data_fail_the_sync_naming_the_rule_and_flow(tmp_path):
    rs = load(tmp_path, rules_with(flow_rule("Strict", 20, """\
        - {target: sn, expression: 'IIF(IsPresent([sn]),[sn],Error("sn is required"))'}
        - {target: n, expression: 'BitAnd([flags],1)'}
        """)))
    with pytest.raises(ErrorFunctionTriggered) as e:
        rs.inbound("AD", "user", {}, {})
    assert e.value.message == ('Sync rule "Strict", flow to sn (IIF(IsPresent([sn]),[sn],Error("sn is required"))): '
                               "sn is required")
    assert (e.value.rule, e.value.target, e.value.error_code) == ("Strict", "sn", "sync-rule-error-function-triggered")
    with pytest.raises(RuleEvaluationError, match=r'"Strict", flow to n .*BitAnd \(position 1\): "abc" is not a number'):
        rs.inbound("AD", "user", {"sn": ["x"], "flags": ["abc"]}, {})


# -- outbound ----------------------------------------------------------------------------------------

OUTBOUND = """
rules:
  - name: Out - User Join
    direction: outbound
    source_object_type: person
    target_object_type: user
    link_type: Provision
    precedence: 100
    scope:
      - - {attribute: cloudFiltered, operator: NOTEQUAL, value: "True"}
        - {attribute: sourceObjectType, operator: EQUAL, value: User}
    flows:
      - {target: onPremisesImmutableId, source: sourceAnchor}
  - name: Out - User Identity
    direction: outbound
    source_object_type: person
    target_object_type: user
    precedence: 101
    flows:
      - {target: displayName, source: displayName}
      - {target: proxyAddresses, source: proxyAddresses}
      - {target: manager, source: manager, reference: true, exportable: false}
  - name: Out - Contact Join
    direction: outbound
    source_object_type: person
    target_object_type: contact
    link_type: Provision
    precedence: 102
    scope:
      - - {attribute: sourceObjectType, operator: EQUAL, value: Contact}
  - name: Out - Contact Identity
    direction: outbound
    source_object_type: person
    target_object_type: contact
    precedence: 103
    flows:
      - {target: displayName, source: displayName}
"""


def test_outbound_picks_the_provisioning_rule_in_scope_and_its_type_rules(tmp_path):
    rs = load(tmp_path, OUTBOUND)
    mv = {"sourceObjectType": ["User"], "sourceAnchor": ["abc"], "displayName": ["Jane"], "proxyAddresses": ["SMTP:j@x"],
          "manager": ["CN=Boss,DC=x"]}
    out = rs.outbound("person", mv, {})
    assert out.target_type == "user" and out.join_rule == "Out - User Join" and out.link_type == "Provision"
    assert out.values == {"onPremisesImmutableId": "abc", "displayName": "Jane", "proxyAddresses": ["SMTP:j@x"],
                          "manager": "CN=Boss,DC=x"}
    assert out.not_exportable == {"proxyAddresses", "manager"}  # read-only in Graph; marked not exportable
    assert out.out_of_scope == ["Out - Contact Join (Scope conditions not satisfied: [sourceObjectType EQUAL Contact])"]
    assert {i.data_source for i in out.info} == {"Metaverse"}
    assert next(i for i in out.info if i.name == "manager").type == "Reference"

    contact = rs.outbound("person", {"sourceObjectType": ["Contact"], "displayName": ["C"]}, {})
    assert contact.target_type == "contact" and contact.values == {"displayName": "C"}
    assert contact.not_exportable == {"displayName"}  # Graph cannot write contacts at all


def test_outbound_without_a_provisioning_rule_in_scope_is_excluded(tmp_path):
    rs = load(tmp_path, OUTBOUND)
    out = rs.outbound("person", {"sourceObjectType": ["User"], "cloudFiltered": [True]}, {})
    assert out.values == {} and out.target_type is None
    assert out.excluded == ("Out - User Join", "Scope conditions not satisfied: [cloudFiltered NOTEQUAL True] "
                                               "(cloudFiltered = True)")
    assert rs.outbound("group", {}, {}).excluded[0] == "(no sync rule)"


def test_outbound_targets_lists_what_the_rules_manage(tmp_path):
    rs = load(tmp_path, OUTBOUND)
    assert rs.outbound_targets("person", "user") == {"onPremisesImmutableId", "displayName", "proxyAddresses",
                                                      "manager"}


def test_source_attributes_of_a_rule_built_in_python_accepts_the_built_in_parameters():
    # A flow built in Python (its compiled form a plain callable) is parsed again for the attributes it reads,
    # with the parameters the loader allows: the built-in %Domain.Netbios% as well as the rule files' own.
    from pybridge.core.rules.model import AttributeFlow, Rule

    flow = AttributeFlow(target="displayName", mapping_type="Expression",
                         expression="%Domain.Netbios% & %Site% & [sn]", compiled=lambda env: "x")
    rule = Rule(name="In - Python", direction="inbound", source_object_type="user",
                target_object_type="person", precedence=1, flows=(flow,))
    assert RuleSet([rule], {"Site": "Paris"}).source_attributes() == {"sn"}
