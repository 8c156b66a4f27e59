"""Static checks of the PowerShell module psmodule/ADSyncDiagnostics (no PowerShell runs here).

Every .ps1, .psm1 and .psd1 of the module and of tests/powershell is parsed with tree-sitter-powershell
and must have no syntax error. The manifest must export exactly the Public functions, at pybridge's
version. Each exported function's param block must match the cmdlet contract below (names, types,
Mandatory, Position, pipeline flags, parameter sets, validation) and its comment-based help must document
every parameter, its output and at least two examples, one of them the runbook pattern. The engine must be
started with an argument array and no value may be spliced into code (no Invoke-Expression, no command
built from a string, no [scriptblock]::Create, Invoke-Command only with the module's constant script
block). The engine options the module passes must exist in pybridge's CLI, and the ErrorCode table must
name codes the engine knows.

tree-sitter-powershell (0.26) rejects some forms that PowerShell accepts; the module avoids them, and a
syntax error in one of these forms is reported with a hint rather than ignored (see KNOWN_GRAMMAR_GAPS).
"""
from __future__ import annotations

import argparse
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

ts = pytest.importorskip("tree_sitter", reason="tree-sitter is a test dependency (pip install -e '.[test]')")
tsp = pytest.importorskip("tree_sitter_powershell",
                          reason="tree-sitter-powershell is a test dependency (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "psmodule" / "ADSyncDiagnostics"
MANIFEST = MODULE / "ADSyncDiagnostics.psd1"
PESTER = ROOT / "tests" / "powershell"
PS_SUFFIXES = {".ps1", ".psm1", ".psd1"}

PARSER = ts.Parser(ts.Language(tsp.language()))


# --------------------------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class GrammarGap:
    """A form PowerShell accepts and tree-sitter-powershell does not; errors there get this hint."""
    pattern: re.Pattern[str]  # matched against the source line of the error
    hint: str


KNOWN_GRAMMAR_GAPS = (
    GrammarGap(re.compile(r"\bparam\s*\(.*\)\s*\S", re.IGNORECASE),
               "tree-sitter-powershell needs a line break after a param(...) block when code follows it on the "
               "same line (valid PowerShell): put the body on the next line"),
    GrammarGap(re.compile(r"(^|\s)-[A-Za-z_][\w-]*\d(\s|$)"),
               "tree-sitter-powershell reads a parameter name ending in a digit (-Sha256 $x) as a '2>' "
               "redirection (valid PowerShell): choose a name that ends in a letter"),
    GrammarGap(re.compile(r"^\s*(\[[^\]]+\]\s*)*param\s*\(", re.IGNORECASE),
               "tree-sitter-powershell needs at least one statement after a script's top-level param(...) "
               "block (valid PowerShell): add the script's body"),
    GrammarGap(re.compile(r"\{\s*(<#.*?#>\s*)?\}"),
               "tree-sitter-powershell rejects an empty script block { } (valid PowerShell): write { return }"),
    GrammarGap(re.compile(r"\s-\w+\s+[A-Za-z_][\w.-]*\s*,\s*[A-Za-z_]"),
               "tree-sitter-powershell rejects a list of bare words as a command argument (-Name a, b; valid "
               "PowerShell): quote them ('a', 'b')"),
)


def parse(source: bytes) -> Any:
    return PARSER.parse(source)


def text(node: Any, source: bytes) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8")


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from walk(child)


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node as 'line:column: ...', with a hint where a known grammar gap matches."""
    tree = parse(source)
    lines = source.decode("utf-8").splitlines() or [""]
    problems = []
    for node in walk(tree.root_node):
        if not (node.type == "ERROR" or node.is_missing):
            continue
        row, col = node.start_point
        what = f"missing {node.type!r}" if node.is_missing else f"unexpected {text(node, source)[:60]!r}"
        line = lines[min(row, len(lines) - 1)]
        hints = [gap.hint for gap in KNOWN_GRAMMAR_GAPS if gap.pattern.search(line)]
        problems.append(f"{row + 1}:{col + 1}: {what}" + (f" (hint: {'; '.join(hints)})" if hints else ""))
    return problems


def powershell_files() -> list[Path]:
    return sorted(p for folder in (MODULE, PESTER) if folder.is_dir()
                  for p in folder.rglob("*") if p.suffix.lower() in PS_SUFFIXES)


def code_without_comments(source: bytes) -> str:
    """The source with every comment blanked out (help text may mention what the code must not do)."""
    chars = bytearray(source)
    for node in walk(parse(source).root_node):
        if node.type == "comment":
            chars[node.start_byte:node.end_byte] = b" " * (node.end_byte - node.start_byte)
    return chars.decode("utf-8")


# --------------------------------------------------------------------------------- literal evaluation

class NotLiteral(ValueError):
    pass


def literal(node: Any, source: bytes) -> Any:
    """The value of a constant expression: strings, numbers, $true/$false/$null, @(...), @{...}, a, b."""
    while True:
        kind = node.type
        if kind == "string_literal":
            node = node.named_children[0]
            body = text(node, source)
            if node.type == "verbatim_string_characters":
                return body[1:-1].replace("''", "'")
            if node.type == "expandable_string_literal":
                if any(c.type in ("variable", "sub_expression") for c in node.named_children):
                    raise NotLiteral(body)
                return body[1:-1].replace('""', '"')
            raise NotLiteral(body)
        if kind == "integer_literal":
            return int(text(node, source), 0)
        if kind == "variable":
            name = text(node, source).lower()
            if name in ("$true", "$false", "$null"):
                return {"$true": True, "$false": False, "$null": None}[name]
            raise NotLiteral(name)
        if kind == "array_literal_expression" and len(node.named_children) > 1:
            return [literal(c, source) for c in node.named_children]
        if kind == "array_expression":
            items: list[Any] = []
            for statements in node.named_children:
                for pipeline in statements.named_children:
                    value = literal(pipeline, source)
                    items.extend(value if isinstance(value, list) else [value])
            return items
        if kind == "hash_literal_expression":
            result = {}
            body = next((c for c in node.named_children if c.type == "hash_literal_body"), None)
            for entry in body.named_children if body else []:
                key = text(entry.child_by_field_name("key") or entry.named_children[0], source).strip("'\"")
                result[key] = literal(entry.named_children[-1], source)
            return result
        if len(node.named_children) == 1:
            node = node.named_children[0]
            continue
        raise NotLiteral(text(node, source))


def manifest() -> dict[str, Any]:
    source = MANIFEST.read_bytes()
    hashes = [n for n in walk(parse(source).root_node) if n.type == "hash_literal_expression"]
    assert hashes, "the manifest holds no hashtable"
    return literal(hashes[0], source)


# ------------------------------------------------------------------------------- functions and params

@dataclass
class ParameterAttribute:
    set_name: str | None = None
    mandatory: bool = False
    position: int | None = None
    from_pipeline: bool = False
    by_property_name: bool = False
    mandatory_spelling: str = ""


@dataclass
class Param:
    name: str
    type: str | None = None
    parameter: list[ParameterAttribute] = field(default_factory=list)
    validate: dict[str, list[Any]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    default: str | None = None


@dataclass
class Function:
    name: str
    path: Path
    cmdlet_binding: dict[str, Any] | None
    params: dict[str, Param]
    help: str | None


def attribute_arguments(attribute: Any, source: bytes) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """Positional values, named values (a bare name is True) and the named arguments' raw text."""
    positional: list[Any] = []
    named: dict[str, Any] = {}
    raw: dict[str, str] = {}
    args = next((c for c in attribute.named_children if c.type == "attribute_arguments"), None)
    for arg in args.named_children if args else []:
        first = arg.named_children[0] if arg.named_children else None
        has_equals = any(c.type == "=" for c in arg.children)
        if first is not None and first.type == "simple_name" and (has_equals or len(arg.named_children) == 1):
            key = text(first, source)
            if has_equals:
                value_node = arg.named_children[-1]
                try:
                    named[key] = literal(value_node, source)
                except NotLiteral:
                    named[key] = text(value_node, source)
            else:
                named[key] = True
            raw[key] = text(arg, source)
        else:
            positional.append(literal(arg, source))
    return positional, named, raw


def read_param_block(block: Any, source: bytes) -> tuple[dict[str, Any] | None, dict[str, Param]]:
    binding = None
    attributes = next((c for c in block.named_children if c.type == "attribute_list"), None)
    for attribute in attributes.named_children if attributes else []:
        name = next((c for c in attribute.named_children if c.type == "attribute_name"), None)
        if name is not None and text(name, source).lower() == "cmdletbinding":
            binding = attribute_arguments(attribute, source)[1]
    params: dict[str, Param] = {}
    plist = next((c for c in block.named_children if c.type == "parameter_list"), None)
    for sp in plist.named_children if plist else []:
        variable = next(c for c in sp.named_children if c.type == "variable")
        p = Param(name=text(variable, source).lstrip("$"))
        default = next((c for c in sp.named_children if c.type == "script_parameter_default"), None)
        if default is not None:
            p.default = text(default, source).lstrip("= ").strip()
        attrs = next((c for c in sp.named_children if c.type == "attribute_list"), None)
        for attribute in attrs.named_children if attrs else []:
            type_literal = next((c for c in attribute.named_children if c.type == "type_literal"), None)
            if type_literal is not None:
                p.type = text(type_literal, source)[1:-1]
                continue
            attr_name = text(next(c for c in attribute.named_children if c.type == "attribute_name"), source)
            positional, named, raw = attribute_arguments(attribute, source)
            lower = attr_name.lower()
            if lower == "parameter":
                p.parameter.append(ParameterAttribute(
                    set_name=named.get("ParameterSetName"), mandatory=bool(named.get("Mandatory")),
                    position=named.get("Position"), from_pipeline=bool(named.get("ValueFromPipeline")),
                    by_property_name=bool(named.get("ValueFromPipelineByPropertyName")),
                    mandatory_spelling=raw.get("Mandatory", "")))
            elif lower == "alias":
                p.aliases.extend(positional)
            elif lower.startswith("validate") or lower.startswith("allow"):
                p.validate[attr_name] = positional
        params[p.name] = p
    return binding, params


def functions_in(path: Path) -> list[Function]:
    """The functions a file defines at its top level (nested functions are not counted)."""
    source = path.read_bytes()
    root = parse(source).root_node
    found = []
    statements = next((c for c in root.named_children if c.type == "statement_list"), None)
    for node in statements.named_children if statements else []:
        if node.type != "function_statement":
            continue
        name = text(next(c for c in node.named_children if c.type == "function_name"), source)
        help_text = None
        for comment in (c for c in walk(node) if c.type == "comment"):
            body = text(comment, source)
            if body.startswith("<#") and re.search(r"^\s*\.SYNOPSIS", body, re.MULTILINE | re.IGNORECASE):
                help_text = body[2:-2]
                break
        block = next((c for c in walk(node) if c.type == "param_block"), None)
        binding, params = read_param_block(block, source) if block is not None else (None, {})
        found.append(Function(name, path, binding, params, help_text))
    return found


def public_functions() -> dict[str, Function]:
    return {f.name: f for path in sorted((MODULE / "Public").glob("*.ps1")) for f in functions_in(path)}


def private_functions() -> dict[str, Function]:
    return {f.name: f for path in sorted((MODULE / "Private").glob("*.ps1")) for f in functions_in(path)}


def help_sections(help_text: str) -> list[tuple[str, str, str]]:
    """(KEYWORD, argument, body) for each '.KEYWORD argument' section of comment-based help."""
    sections: list[tuple[str, str, str]] = []
    current: list[Any] | None = None
    for line in help_text.splitlines():
        m = re.match(r"^\s*\.([A-Za-z]+)\s*(\S*)\s*$", line)
        if m and m.group(1).upper() in HELP_KEYWORDS:
            current = [m.group(1).upper(), m.group(2), []]
            sections.append(current)  # type: ignore[arg-type]
        elif current is not None:
            current[2].append(line)
    return [(k, a, "\n".join(b).strip()) for k, a, b in sections]


HELP_KEYWORDS = {"SYNOPSIS", "DESCRIPTION", "PARAMETER", "EXAMPLE", "INPUTS", "OUTPUTS", "NOTES", "LINK",
                 "COMPONENT", "ROLE", "FUNCTIONALITY", "FORWARDHELPTARGETNAME", "FORWARDHELPCATEGORY",
                 "REMOTEHELPRUNSPACE", "EXTERNALHELP"}


# ----------------------------------------------------------------------------------------- contract

@dataclass(frozen=True)
class Spec:
    type: str
    mandatory_in: frozenset[str] = frozenset()   # parameter sets where it is Mandatory ("*": all)
    sets: frozenset[str] = frozenset({"*"})     # parameter sets it belongs to ("*": all)
    position: int | None = None
    pipeline: bool = False
    by_property_name: bool = False
    validate_set: tuple[str, ...] | None = None
    not_null_or_empty: bool = False


def spec(type_: str, **kw: Any) -> Spec:
    for key in ("mandatory_in", "sets"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    return Spec(type_, **kw)


REMOTING = {
    # WinRM (WSMan), as Invoke-Command -ComputerName
    "ComputerName": spec("string[]", mandatory_in={"ComputerName"}, sets={"ComputerName"}, not_null_or_empty=True),
    "Credential": spec("pscredential", sets={"ComputerName"}),
    "UseSSL": spec("switch", sets={"ComputerName"}),
    "Port": spec("int", sets={"ComputerName", "HostName"}),
    "Authentication": spec("System.Management.Automation.Runspaces.AuthenticationMechanism", sets={"ComputerName"}),
    "ConfigurationName": spec("string", sets={"ComputerName"}, not_null_or_empty=True),
    # SSH, as Invoke-Command -HostName
    "HostName": spec("string[]", mandatory_in={"HostName"}, sets={"HostName"}, not_null_or_empty=True),
    "UserName": spec("string", sets={"HostName"}, not_null_or_empty=True),
    "KeyFilePath": spec("string", sets={"HostName"}, not_null_or_empty=True),
    "Subsystem": spec("string", sets={"HostName"}, not_null_or_empty=True),
    "Options": spec("hashtable", sets={"HostName"}),
    # sessions of the caller's, over either transport
    "Session": spec("System.Management.Automation.Runspaces.PSSession[]", mandatory_in={"Session"},
                    sets={"Session"}, not_null_or_empty=True),
    "ThrottleLimit": spec("int", sets={"ComputerName", "HostName", "Session"}),
}
CONFIG_PATH = {"ConfigPath": spec("string", not_null_or_empty=True)}

CONTRACT: dict[str, dict[str, Spec]] = {
    "Invoke-ADSyncSingleObjectSync": {
        "DistinguishedName": spec("string", mandatory_in={"*"}, position=0, pipeline=True, by_property_name=True,
                                  not_null_or_empty=True),
        "StagingMode": spec("switch"),
        "NoHtmlReport": spec("switch"),
        **CONFIG_PATH,
        "ReportDirectory": spec("string", not_null_or_empty=True),
        "Format": spec("string", validate_set=("ADSync", "Graph")),
        "AsObject": spec("switch"),
        **REMOTING,
    },
    "Get-ADSyncScheduler": {**CONFIG_PATH, **REMOTING},
    "Set-ADSyncScheduler": {
        "CustomizedSyncCycleInterval": spec("Nullable[TimeSpan]"),
        # Booleans, not switches: the original takes -SyncCycleEnabled $false and runbooks pass it so.
        "SyncCycleEnabled": spec("bool"),
        "NextSyncCyclePolicyType": spec("string", validate_set=("Delta", "Initial")),
        "PurgeRunHistoryInterval": spec("TimeSpan"),
        "MaintenanceEnabled": spec("bool"),
        "SchedulerSuspended": spec("bool"),
        "Force": spec("switch"),
        "PassThru": spec("switch"),
        **CONFIG_PATH,
        **REMOTING,
    },
}
SHOULD_PROCESS = {"Invoke-ADSyncSingleObjectSync": True, "Get-ADSyncScheduler": False, "Set-ADSyncScheduler": True}
RUNBOOK_PATTERN = re.compile(r"-NoHtmlReport\s+-StagingMode\s*\|\s*ConvertFrom-Json", re.IGNORECASE)

# PowerShell's System.Management.Automation.ErrorCategory names.
ERROR_CATEGORIES = {
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument", "InvalidData",
    "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented", "NotInstalled",
    "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError", "PermissionDenied",
    "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError", "FromStdErr",
    "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError", "LimitsExceeded", "QuotaExceeded",
    "NotEnabled",
}


# ============================================================================================== tests
# --- syntax

@pytest.mark.parametrize("path", powershell_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_powershell_file_has_no_syntax_error(path: Path) -> None:
    problems = syntax_errors(path.read_bytes())
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", powershell_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_windows_powershell_reads_the_file_as_written(path: Path) -> None:
    """Windows PowerShell 5.1 reads a file without a byte order mark as ANSI: non-ASCII needs the UTF-8 BOM."""
    data = path.read_bytes()
    if not data.startswith(b"\xef\xbb\xbf"):
        assert data.isascii(), f"{path.relative_to(ROOT)} has non-ASCII characters but no UTF-8 byte order mark"


def test_there_are_powershell_files_to_check() -> None:
    names = {p.name for p in powershell_files()}
    assert {"ADSyncDiagnostics.psd1", "ADSyncDiagnostics.psm1"} <= names
    assert any(n.endswith(".Tests.ps1") for n in names)


BROKEN = {
    "unclosed function body": "function Get-Thing {\n    param($a)\n    $a\n",
    "unclosed if condition": "if ($a -eq 1 {\n    'one'\n}\n",
    "unclosed hashtable": "$h = @{\n    A = 1\n",
    "unclosed param list": "function F {\n    param([string]$a\n    $a\n}\n",
    "unclosed string": "Write-Output \"no end\n",
    "function without a name": "function {\n    1\n}\n",
    "foreach without in": "foreach ($item $items) {\n    $item\n}\n",
    "assignment without a value": "$x =\n",
    "stray closing brace": "Write-Output 1\n}\n",
    "unclosed attribute": "function F {\n    [CmdletBinding(\n    param()\n    1\n}\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_check_finds_real_syntax_errors(name: str) -> None:
    assert syntax_errors(BROKEN[name].encode()), f"{name!r} was not reported"


VALID = {
    "advanced function": "function Get-Thing {\n    [CmdletBinding(SupportsShouldProcess)]\n"
                         "    param(\n        [Parameter(Mandatory, Position = 0, ValueFromPipeline)]\n"
                         "        [ValidateNotNullOrEmpty()]\n        [string]\n        $Name\n    )\n"
                         "    process {\n        if ($PSCmdlet.ShouldProcess($Name)) { $Name }\n    }\n}\n",
    "call operator with splatting": "$arguments = @('-m', 'pybridge')\n& $python @arguments 2>&1 | ForEach-Object { $_ }\n",
    "try catch finally": "try {\n    1\n}\ncatch {\n    throw\n}\nfinally {\n    2\n}\n",
    "script block with param": "$sb = {\n    param($a, $b)\n    & $a @b\n}\n",
    "manifest": "@{\n    ModuleVersion = '1.0'\n    FunctionsToExport = @('A', 'B')\n}\n",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_check_accepts_valid_powershell(name: str) -> None:
    assert syntax_errors(VALID[name].encode()) == []


GAPS = {
    "param and body on one line": "function F { param($a) $a }\n",
    "parameter name ending in a digit": "Get-FileHash -Path $p -Sha256 $x\n",
    "script that is only a param block": "[CmdletBinding()]\nparam($a)\n",
    "empty script block": "Mock Write-Progress { }\n",
    "bare words as a list argument": "Get-Thing -ComputerName aadc01, aadc02\n",
}


@pytest.mark.parametrize("name", sorted(GAPS))
def test_a_known_grammar_gap_is_reported_with_its_hint(name: str) -> None:
    """Valid PowerShell the grammar rejects: still reported (never skipped), but explained."""
    problems = syntax_errors(GAPS[name].encode())
    if not problems:
        pytest.skip("this tree-sitter-powershell accepts the form now; KNOWN_GRAMMAR_GAPS can lose its entry")
    assert any("hint:" in p for p in problems), problems


# --- manifest and layout

def test_manifest_fields() -> None:
    m = manifest()
    assert m["RootModule"] == "ADSyncDiagnostics.psm1"
    assert set(m["CompatiblePSEditions"]) == {"Desktop", "Core"}
    assert m["PowerShellVersion"] == "5.1"
    uuid.UUID(m["GUID"])
    for key in ("CmdletsToExport", "VariablesToExport", "AliasesToExport"):
        assert m[key] == [], f"{key} must be an explicit empty list"
    assert isinstance(m["FunctionsToExport"], list) and "*" not in "".join(m["FunctionsToExport"])


def test_manifest_version_is_pybridge_version() -> None:
    import pybridge

    assert manifest()["ModuleVersion"] == pybridge.__version__  # the one version source (pyproject reads it too)


def test_manifest_exports_exactly_the_public_functions() -> None:
    exported = sorted(manifest()["FunctionsToExport"])
    public = sorted(p.stem for p in (MODULE / "Public").glob("*.ps1"))
    assert exported == public
    assert not set(exported) & set(private_functions()), "a private helper is exported"


def test_each_public_file_defines_one_function_named_after_it() -> None:
    for path in sorted((MODULE / "Public").glob("*.ps1")):
        assert [f.name for f in functions_in(path)] == [path.stem], path.name


def test_no_function_is_defined_twice() -> None:
    names = [f.name for folder in ("Public", "Private") for p in sorted((MODULE / folder).glob("*.ps1"))
             for f in functions_in(p)]
    assert len(names) == len(set(n.lower() for n in names))


def test_module_layout() -> None:
    assert (MODULE / "en-US" / "about_ADSyncDiagnostics.help.txt").is_file()
    about = (MODULE / "en-US" / "about_ADSyncDiagnostics.help.txt").read_text(encoding="utf-8")
    assert about.startswith("TOPIC\n    about_ADSyncDiagnostics")
    for name in manifest()["FunctionsToExport"]:
        assert name in about, f"about_ADSyncDiagnostics does not mention {name}"
    psm1 = (MODULE / "ADSyncDiagnostics.psm1").read_text(encoding="utf-8")
    assert "Export-ModuleMember" in psm1
    assert manifest()["GUID"] not in psm1, "the psm1 reads the GUID from the manifest; do not repeat it"


# --- parameters

@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_param_block_matches_the_contract(name: str) -> None:
    function = public_functions()[name]
    expected = CONTRACT[name]
    assert sorted(function.params) == sorted(expected), "parameter names differ from the contract"
    all_sets = {a.set_name for p in function.params.values() for a in p.parameter if a.set_name}
    for pname, want in expected.items():
        p = function.params[pname]
        where = f"{name} -{pname}"
        assert p.type is not None and p.type.lower() == want.type.lower(), f"{where}: type {p.type}"
        sets = {a.set_name for a in p.parameter if a.set_name} or {"*"}
        assert sets == set(want.sets), f"{where}: parameter sets {sets}"
        mandatory = {a.set_name or "*" for a in p.parameter if a.mandatory}
        assert mandatory == set(want.mandatory_in), f"{where}: Mandatory in {mandatory}"
        positions = {a.position for a in p.parameter}
        assert positions <= {want.position}, f"{where}: Position {positions}"
        if want.position is not None:
            assert positions == {want.position}, f"{where}: Position {positions}"
        assert any(a.from_pipeline for a in p.parameter) == want.pipeline, f"{where}: ValueFromPipeline"
        assert any(a.by_property_name for a in p.parameter) == want.by_property_name, \
            f"{where}: ValueFromPipelineByPropertyName"
        if want.validate_set is not None:
            assert tuple(p.validate.get("ValidateSet", ())) == want.validate_set, f"{where}: ValidateSet"
        assert ("ValidateNotNullOrEmpty" in p.validate) == want.not_null_or_empty, f"{where}: ValidateNotNullOrEmpty"
        for attribute in p.parameter:
            assert attribute.mandatory_spelling in ("", "Mandatory"), \
                f"{where}: write [Parameter(Mandatory)], not {attribute.mandatory_spelling!r}"
    if all_sets:
        default = (function.cmdlet_binding or {}).get("DefaultParameterSetName")
        assert default and default not in all_sets, f"{name}: DefaultParameterSetName must name the local set"


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_cmdlet_binding(name: str) -> None:
    binding = public_functions()[name].cmdlet_binding
    assert binding is not None, f"{name} has no [CmdletBinding()]"
    assert bool(binding.get("SupportsShouldProcess")) == SHOULD_PROCESS[name]
    if name == "Set-ADSyncScheduler":
        assert binding.get("ConfirmImpact") in ("Low", "Medium", "High")
        source = public_functions()[name].path.read_text(encoding="utf-8")
        assert "$Force" in source and "$ConfirmPreference = 'None'" in source, "-Force must skip confirmation"


def test_every_function_has_cmdlet_binding_and_a_synopsis() -> None:
    for function in [*public_functions().values(), *private_functions().values()]:
        assert function.cmdlet_binding is not None, f"{function.name}: [CmdletBinding()] missing"
        assert function.help and help_sections(function.help)[0][0] == "SYNOPSIS", f"{function.name}: no .SYNOPSIS"


# --- help

@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_help_documents_every_parameter_and_has_examples(name: str) -> None:
    function = public_functions()[name]
    assert function.help, f"{name} has no comment-based help"
    sections = help_sections(function.help)
    by_keyword: dict[str, list[tuple[str, str]]] = {}
    for keyword, argument, body in sections:
        by_keyword.setdefault(keyword, []).append((argument, body))
    for keyword in ("SYNOPSIS", "DESCRIPTION", "OUTPUTS"):
        assert keyword in by_keyword and by_keyword[keyword][0][1], f"{name}: .{keyword} missing or empty"
    documented = {argument: body for argument, body in by_keyword.get("PARAMETER", [])}
    assert sorted(documented) == sorted(function.params), f"{name}: .PARAMETER sections differ from param()"
    for parameter, body in documented.items():
        assert body, f"{name}: .PARAMETER {parameter} is empty"
    examples = [body for _, body in by_keyword.get("EXAMPLE", [])]
    assert len(examples) >= 2, f"{name}: fewer than two examples"
    for example in examples:
        code, _, explanation = example.partition("\n\n")
        assert code.strip() and explanation.strip(), f"{name}: an example needs code and an explanation"
    assert any(RUNBOOK_PATTERN.search(e) for e in examples), \
        f"{name}: no example of the runbook pattern '... -NoHtmlReport -StagingMode | ConvertFrom-Json'"


# --- how the engine and remote code are invoked

def commands(source: bytes) -> Iterator[tuple[Any, str | None]]:
    """Each command node, with its name when it is a plain name (None for '&' and '.' invocations)."""
    for node in walk(parse(source).root_node):
        if node.type == "command":
            name = next((c for c in node.named_children if c.type == "command_name"), None)
            yield node, (text(name, source) if name is not None else None)


FORBIDDEN_COMMANDS = {"invoke-expression", "iex", "start-process", "saps", "start", "cmd", "cmd.exe", "powershell",
                      "powershell.exe", "pwsh", "pwsh.exe", "add-type", "new-object"}
FORBIDDEN_CODE = [
    (re.compile(r"\[\s*(System\.Management\.Automation\.)?ScriptBlock\s*\]\s*::\s*Create", re.I), "[scriptblock]::Create"),
    (re.compile(r"\.\s*NewScriptBlock\s*\(", re.I), "NewScriptBlock()"),
    (re.compile(r"\.\s*InvokeScript\s*\(", re.I), "InvokeScript()"),
    (PROCESS_START_INFO := re.compile(r"ProcessStartInfo|\.Arguments\s*=", re.I), "a command-line string for a process"),
    (re.compile(r"(?<![\w-])-(Encoded)?Command\b", re.I), "a command string for a shell"),
]
# The one file that starts a process itself (the engine for a pipeline of objects, its stdin kept open): it
# must hand over an argument array, which PowerShell 7's ProcessStartInfo.ArgumentList takes as it is and
# Windows PowerShell 5.1 (no ArgumentList) gets joined by ConvertTo-ProcessCommandLine.
BATCH_ENGINE_FILE = "Private/Open-PyBridgeBatch.ps1"
# The only files that start programs or run code with the call operator, and what they may call.
CALL_OPERATOR_FILES = {
    "Private/Invoke-PyBridgeEngine.ps1",  # the engine
    "Private/Resolve-PyBridgeEngine.ps1",  # 'python -m pybridge --version' to find the engine
    "Private/Invoke-ADSyncRemoteCommand.ps1",  # this module's own function, on the server
    "Private/Invoke-ADSyncContained.ps1",  # a script block of this module, kept out of the caller's $Error
}


def module_files() -> list[Path]:
    return [p for p in powershell_files() if MODULE in p.parents]


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(MODULE)))
def test_no_code_is_built_from_strings(path: Path) -> None:
    source = path.read_bytes()
    for node, name in commands(source):
        if name is not None:
            assert name.lower() not in FORBIDDEN_COMMANDS, f"{path.name}: {name} is not allowed here"
        expression = next((c for c in node.named_children if c.type == "command_name_expr"), None)
        if expression is not None:
            assert not any(c.type == "string_literal" for c in walk(expression)), \
                f"{path.name}: a command given as a string: {text(node, source)[:80]}"
    code = code_without_comments(source)
    for pattern, what in FORBIDDEN_CODE:
        if pattern is PROCESS_START_INFO and str(path.relative_to(MODULE)) == BATCH_ENGINE_FILE:
            continue  # the pipeline's one engine process: checked by test_batch_engine_is_started_with_an_array
        assert not pattern.search(code), f"{path.name}: {what}"


def test_the_call_operator_takes_a_variable_and_a_splatted_array() -> None:
    used_in = set()
    for path in module_files():
        source = path.read_bytes()
        for node, name in commands(source):
            if name is not None:
                continue
            operator = text(next(c for c in node.named_children if c.type == "command_invokation_operator"), source)
            target = next(c for c in node.named_children if c.type == "command_name_expr")
            relative = str(path.relative_to(MODULE))
            if operator == "." and relative == "ADSyncDiagnostics.psm1":
                continue  # dot-sourcing the module's own files
            used_in.add(relative)
            assert [c.type for c in target.named_children] == ["path_command_name"] and \
                [c.type for c in target.named_children[0].named_children] == ["variable"], \
                f"{relative}: '{text(node, source)}' must call a variable"
            elements = next((c for c in node.named_children if c.type == "command_elements"), None)
            for element in elements.named_children if elements else []:
                if element.type in ("command_argument_sep", "redirection"):
                    continue
                while len(element.named_children) == 1 and element.type != "variable":
                    element = element.named_children[0]
                assert element.type == "variable" and text(element, source).startswith("@"), \
                    f"{relative}: '{text(node, source)}': arguments must be one splatted array (@arguments)"
    assert used_in == CALL_OPERATOR_FILES


def test_engine_command_is_python_m_pybridge_then_the_callers_array() -> None:
    source = (MODULE / "Private" / "Invoke-PyBridgeEngine.ps1").read_text(encoding="utf-8")
    assert re.search(r"\$arguments\s*=\s*@\(\$engine\.Arguments\)\s*\+\s*@\('-m', 'pybridge'\)\s*\+\s*@\(\$ArgumentList\)",
                     source), "the engine's arguments: the interpreter's, then -m pybridge, then the caller's array"
    assert re.search(r"^\s*\[string\[\]\]\s*\n\s*\$ArgumentList", source, re.MULTILINE)


def test_batch_engine_is_started_with_an_array() -> None:
    code = code_without_comments((MODULE / BATCH_ENGINE_FILE).read_bytes())
    assert re.search(r"\$arguments\s*=\s*@\(\$engine\.Arguments\)\s*\+\s*@\('-m', 'pybridge'\)\s*\+\s*@\(\$engineArguments\)",
                     code), "the engine's arguments: the interpreter's, then -m pybridge, then the caller's array"
    # the array itself where .NET takes one; else the one command line the array becomes by the C runtime's rules
    assert re.search(r"foreach \(\$argument in \$arguments\)\s*\{\s*\$info\.ArgumentList\.Add\(\$argument\)", code)
    assignments = re.findall(r"\.Arguments\s*=\s*(.*)", code)
    assert assignments == ["ConvertTo-ProcessCommandLine -ArgumentList $arguments"], assignments
    assert "[System.Diagnostics.Process]::Start($info)" in code and "UseShellExecute = $false" in code
    for path in module_files():
        if str(path.relative_to(MODULE)) != BATCH_ENGINE_FILE:
            assert "Diagnostics.Process]::Start" not in code_without_comments(path.read_bytes()), path.name


def test_invoke_command_runs_only_the_constant_script_block() -> None:
    users = []
    for path in module_files():
        source = path.read_bytes()
        for node, name in commands(source):
            if name and name.lower() in ("invoke-command", "icm", "new-pssession", "enter-pssession"):
                users.append((path.name, name.lower(), text(node, source)))
    assert [(f, n) for f, n, _ in users if n == "invoke-command"] == [("Invoke-ADSyncRemoteCommand.ps1", "invoke-command")]
    assert [(f, n) for f, n, _ in users if n != "invoke-command"] == [("Open-ADSyncRemoteSession.ps1", "new-pssession")]
    source = (MODULE / "Private" / "Invoke-ADSyncRemoteCommand.ps1").read_bytes()
    code = code_without_comments(source)
    assert re.search(r"^\$script:RemoteCommandScript\s*=\s*\{", code, re.MULTILINE), \
        "the remote script block must be a literal { ... }"
    assert re.search(r"ScriptBlock\s*=\s*\$script:RemoteCommandScript\b", code)
    assert re.search(r"ArgumentList\s*=\s*@\(", code)


def engine_options() -> dict[str, set[str]]:
    """Options of each engine command, read from pybridge's own argument parser."""
    from pybridge.cli import build_parser

    found: dict[str, set[str]] = {}

    def visit(parser: argparse.ArgumentParser, path: str) -> None:
        found[path] = set()
        for action in parser._actions:
            found[path].update(s for s in action.option_strings if s.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, f"{path} {name}".strip())

    visit(build_parser(), "")
    return found


OPTION_USERS = {
    "Public/Invoke-ADSyncSingleObjectSync.ps1": "sync",
    "Public/Get-ADSyncScheduler.ps1": "scheduler get",
    "Public/Set-ADSyncScheduler.ps1": "scheduler set",
    "Private/Resolve-PyBridgeEngine.ps1": "",
}


def string_literals(source: bytes) -> Iterator[str]:
    for node in walk(parse(source).root_node):
        if node.type == "string_literal":
            try:
                value = literal(node, source)
            except NotLiteral:
                continue
            yield value


@pytest.mark.parametrize("relative", sorted(OPTION_USERS))
def test_engine_options_exist_in_the_engine(relative: str) -> None:
    known = engine_options()[OPTION_USERS[relative]]
    used = {s for s in string_literals((MODULE / relative).read_bytes()) if re.fullmatch(r"--[a-z][a-z-]*", s)}
    assert used, f"{relative} passes no engine option"
    assert used <= known, f"{relative}: options the engine does not have: {sorted(used - known)}"


def test_only_known_files_pass_engine_options() -> None:
    for path in module_files():
        relative = str(path.relative_to(MODULE))
        options = {s for s in string_literals(path.read_bytes()) if re.fullmatch(r"--[a-z][a-z-]*", s)}
        if options:
            assert relative in OPTION_USERS, f"{relative} passes engine options {sorted(options)}"


# --- errors

def test_error_category_table_names_engine_codes_and_real_categories() -> None:
    from pybridge.core.errorcodes import ERROR_CODES

    source = (MODULE / "Private" / "Get-ADSyncErrorCategory.ps1").read_bytes()
    tables = [literal(n, source) for n in walk(parse(source).root_node) if n.type == "hash_literal_expression"]
    assert len(tables) == 1
    table = tables[0]
    assert set(table) <= set(ERROR_CODES), f"codes the engine does not know: {sorted(set(table) - set(ERROR_CODES))}"
    assert set(table.values()) <= ERROR_CATEGORIES
    brief = {"ObjectNotAccessible": {"PermissionDenied", "ObjectNotFound"},
             "AuthenticationFailed": {"AuthenticationError"}, "LdapServerUnavailable": {"ConnectionError"},
             "GraphUnavailable": {"ConnectionError"}, "AttributeValueMustBeUnique": {"ResourceExists"},
             "InvalidSoftMatch": {"ResourceExists"}, "IdentityDataValidationFailed": {"InvalidData"},
             "ConfigurationError": {"InvalidArgument"}, "no-start-ma-already-running": {"ResourceBusy"}}
    for code, allowed in brief.items():
        assert table.get(code) in allowed, f"{code} -> {table.get(code)}"
    assert "'InvalidOperation'" in source.decode(), "codes not in the table must default to InvalidOperation"


def test_error_ids_and_categories_used_by_the_module() -> None:
    for path in module_files():
        source = path.read_bytes()
        for node, _ in commands(source):
            elements = next((c for c in node.named_children if c.type == "command_elements"), None)
            children = [c for c in (elements.named_children if elements else []) if c.type != "command_argument_sep"]
            for i, element in enumerate(children[:-1]):
                if element.type == "command_parameter" and text(element, source).lower() == "-category":
                    value = text(children[i + 1], source).strip("'\"")
                    if not value.startswith(("$", "(")):
                        assert value in ERROR_CATEGORIES, f"{path.name}: -Category {value}"
        code = code_without_comments(source)
        for error_id in re.findall(r"-ErrorId\s+['\"]([^'\"]+)['\"]", code):
            assert re.fullmatch(r"(ADSyncSingleObjectSync|ADSyncScheduler|\$ErrorIdPrefix)\.[\w.$()-]+", error_id), \
                f"{path.name}: ErrorId {error_id}"
        for prefix in re.findall(r"-ErrorIdPrefix\s+(\S+)", code):
            assert prefix.strip("'\"") in ("ADSyncSingleObjectSync", "ADSyncScheduler"), f"{path.name}: {prefix}"


def test_failure_results_write_an_error_record_with_the_dn_as_target() -> None:
    # Write-ADSyncObjectResult writes each object's result and error, for one object and for a pipeline's batch
    code = code_without_comments((MODULE / "Private" / "Write-ADSyncObjectResult.ps1").read_bytes())
    assert '-ErrorId "ADSyncSingleObjectSync.$code"' in code
    assert "$Cmdlet.WriteError(" in code
    assert "-TargetObject $DistinguishedName" in code
    public = code_without_comments((MODULE / "Public" / "Invoke-ADSyncSingleObjectSync.ps1").read_bytes())
    assert public.count("Write-ADSyncObjectResult -DistinguishedName") == 4  # one object, held one, batch twice
    assert "$PSCmdlet.WriteError(" in public  # the remote results' errors


# --- Pester tests and the runner

def test_pester_tests_cover_every_public_function() -> None:
    tests = {p.name: p.read_text(encoding="utf-8") for p in PESTER.glob("*.Tests.ps1")}
    assert tests, "no Pester tests in tests/powershell"
    everything = "\n".join(tests.values())
    for name in CONTRACT:
        assert name in everything, f"no Pester test mentions {name}"
    assert re.search(r"Mock\s+(-CommandName\s+)?Invoke-PyBridgeEngine\b", everything), \
        "the Pester tests must mock the engine-invoking helper"
    assert "Set-ItResult -Skipped" in everything, "the real-engine test must skip with a reason"


def test_pester_runner_is_executable_and_reports_a_skip() -> None:
    runner = PESTER / "run.sh"
    assert runner.is_file() and os.access(runner, os.X_OK)
    body = runner.read_text(encoding="utf-8")
    assert "scripts/find-pwsh" in body and "skip" in body.lower() and "CI" in body
