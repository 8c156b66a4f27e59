"""The HTML report: one self-contained file, rendered with Jinja2 (autoescape on).

No CDN, script or font is fetched from anywhere; the page is readable opened from
disk, printable, usable on a narrow screen, and without JavaScript the tabs
degrade to sections one after another. Directory values are always data: Jinja2
escapes every value, and nothing from the directory is marked safe.

The page leads with what went wrong: a run that did not succeed opens with a banner
(status, ErrorCode, reason, recommended action, a link to the step that stopped it)
and on the Troubleshooting tab, which lists every warning of the run, whatever its status.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from markupsafe import Markup
from msgspec import Struct, field

if TYPE_CHECKING:  # jinja2 is imported when a report is rendered (environment below)
    from jinja2 import Environment

from .. import __version__, platform
from ..core import dn as dnlib
from ..core.errorcodes import lookup
from ..core.model import AttributeInfo, ProvisioningStep, Status, StepKey, StepType, SyncResult, iso
from ..sync import details as d

MAX_LIST = 200  # values listed per multi-valued attribute; the rest are counted ("... and N more")
_SPLIT = re.compile(r"(?<!\\); ")  # AttributeInfo joins values with "; " (RFC 4514 escapes ';' inside DNs)
MEMBER_ATTRIBUTES = {"member", "members", "manager"}  # their values are DNs (AD side) or ids (Entra side)

REPORT_PREFIX = "ADSyncSingleObjectSyncResult-"  # the original's; remote transfers look for PREFIX*.htm
MAX_NAME_CHARS = 48  # the object's name in the file name, bounded (paths on Windows stay short)
MAX_NAME_BYTES = 96  # and in UTF-8 bytes (255-byte file names on Linux and macOS)

_ENV: Environment | None = None


def environment(bytecode_cache: Any = None) -> Environment:
    """The template environment, built on first use and kept for the process (jinja2 is imported only when a
    report is rendered); *bytecode_cache* (pybridge.cache.template_cache) keeps the compiled template between
    processes, so a run loads it instead of compiling it."""
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, PackageLoader, select_autoescape
        _ENV = Environment(loader=PackageLoader("pybridge.report", "templates"),
                           autoescape=select_autoescape(default=True, default_for_string=True),
                           trim_blocks=True, lstrip_blocks=True, bytecode_cache=bytecode_cache)
        _ENV.filters["humps"] = _humps
        _ENV.filters["after_hyphens"] = _after_hyphens
    return _ENV


_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _humps(name: str) -> Markup:
    """An attribute name that may wrap between the words of its camelCase (onPremises|Security|Identifier), never
    inside one: a narrow column or a printed page stays readable. Each part is escaped."""
    return Markup("<wbr>").join(_HUMP.split(str(name)))


def _after_hyphens(text: str) -> Markup:
    """An id that may wrap after any of its hyphens (a GUID's groups stay whole; Unicode line breaking
    keeps a hyphen followed by a digit together). Each part is escaped."""
    return Markup("-<wbr>").join(str(text).split("-"))


# -- values, and members named by who they are ---------------------------------------------------------------
class References(Struct):
    """Member and manager DNs with the Entra ids step 9 resolved them to, both ways.

    The result knows no member's display name or UPN (the steps carry DNs on the AD side and ids on the
    Entra side), so a member is shown by the name in its DN's leaf RDN, the DN, and the id it resolved to.
    A result read back from JSON (history, a remote server) has no such map: its ids stay bare.
    """

    by_dn: dict[str, str | None] = field(default_factory=dict)
    by_id: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, result: SyncResult) -> References:
        refs = result.extra.get(d.RESOLVED_REFERENCES) or {}
        return cls(by_dn={str(k).lower(): v for k, v in refs.items()},
                   by_id={str(v).lower(): str(k) for k, v in refs.items() if v})

    def entry(self, value: str) -> dict[str, Any]:
        """One value as the template shows it: a member with name, DN and id where known, else the text."""
        key = value.lower()
        if key in self.by_id:
            return _member(self.by_id[key], value)
        if key in self.by_dn:
            return _member(value, self.by_dn[key], unresolved=self.by_dn[key] is None)
        return {"text": value}


def _member(dn: str, entra_id: str | None, unresolved: bool = False) -> dict[str, Any]:
    try:
        name = dnlib.rdn_value(dn)
    except dnlib.InvalidDnError:
        name = None
    return {"text": dn, "name": name, "dn": dn, "id": entra_id, "unresolved": unresolved}


def _values(a: AttributeInfo | None, text: str | None,
            entry: Callable[[str], dict[str, Any]] | None = None) -> dict[str, Any] | None:
    if a is None or text is None:
        return None
    items = _SPLIT.split(text) if a.is_multi_valued else [text]
    make = entry if entry is not None and a.name in MEMBER_ATTRIBUTES else (lambda x: {"text": x})
    return {"count": len(items), "shown": [make(x) for x in items[:MAX_LIST]], "more": max(0, len(items) - MAX_LIST),
            "multi": a.is_multi_valued}


def _attr_rows(attrs: list[AttributeInfo], refs: References) -> list[dict[str, Any]]:
    return [{"a": a, "value": _values(a, a.value, refs.entry), "add": _values(a, a.add, refs.entry),
             "delete": _values(a, a.delete, refs.entry)} for a in attrs]


# -- what went wrong, and what to look at ----------------------------------------------------------------------
def stopping_step(result: SyncResult) -> ProvisioningStep | None:
    """The step that failed, or that found the object out of scope (it carries the Reason detail)."""
    failed = next((st for st in result.steps if st.status == Status.FAILURE), None)
    return failed or next((st for st in result.steps if d.REASON in st.details), None)


def _banner(result: SyncResult) -> dict[str, Any] | None:
    s = result.status_info
    if s.status == Status.SUCCESS:
        return None
    info = lookup(s.error_code) if s.error_code else None
    return {"step": stopping_step(result), "link": info.link if info else None,
            "before_steps": all(st.status == Status.SKIPPED and not st.details for st in result.steps)}


def _member_count(result: SyncResult) -> int | None:
    """How many members the group has in Active Directory (the import step's member values)."""
    imported = result.step(StepKey.SOURCE_IMPORT)
    member = next((a for a in (imported.attributes if imported else []) if a.name == "member"), None)
    if member is None:
        return None
    return len(_SPLIT.split(member.value)) if member.value else 0


def findings(result: SyncResult) -> list[dict[str, Any]]:
    """Every warning of the run, for the Troubleshooting tab: the run's own warnings, the references left
    out of the export (for a group: how many of its members Entra ID holds), member changes an export
    failure left unconfirmed, and a read-back that could not confirm the export yet."""
    out: list[dict[str, Any]] = []
    refs = References.of(result)
    sync_step, export = result.step(StepKey.SYNC), result.step(StepKey.EXPORT)
    unresolved = _SPLIT.split(sync_step.details[d.UNRESOLVED_REFERENCES]) \
        if sync_step and sync_step.details.get(d.UNRESOLVED_REFERENCES) else []
    dry = result.staging_mode or result.what_if
    if unresolved:
        total = _member_count(result)  # None for a user (its manager is the reference)
        entries = [_member(dn, None, unresolved=True) for dn in unresolved[:MAX_LIST]]
        more = max(0, len(unresolved) - MAX_LIST)
        if total:
            held = max(0, total - len(unresolved))
            ok = result.status_info.status in (Status.SUCCESS, Status.WARNING)
            holds = ("Entra ID would hold" if dry else "Entra ID holds") if ok else \
                "Even after a successful export, Entra ID would hold"
            out.append({"title": f"Group members: {held} of {total}",
                        "text": f"{holds} {held} of the {total} members this group has in Active Directory: "
                                f"{len(unresolved)} member(s) are not in Entra ID (not synced yet, or out of "
                                "scope) and were left out of the export, as Entra Connect leaves unresolved "
                                "references out. Sync those members first, then this group again.",
                        "entries": entries, "more": more, "step": sync_step.number if sync_step else None})
        else:
            out.append({"title": "Unresolved references",
                        "text": f"{len(unresolved)} reference(s) are not in Entra ID and were left out of the "
                                "export (Entra ID keeps what it has for them). Sync the objects named here first, "
                                "then this object again.",
                        "entries": entries, "more": more, "step": sync_step.number if sync_step else None})
    summary = re.compile(rf"^{len(unresolved)} reference\(s\) could not be resolved") if unresolved else None
    for w in result.warnings:
        if summary is not None and summary.match(w):
            continue  # the list above says it, with the names
        out.append({"title": "Warning", "text": w, "entries": [], "more": 0, "step": None})
    if export is not None and export.details.get(d.EXPORT_STEP_RESULT) == d.EXPORT_FAILED_WHILE_SENDING:
        members = next((a for a in export.attributes if a.name == "members"), None)
        if members is not None and (members.add or members.delete):
            adds = len(_SPLIT.split(members.add)) if members.add else 0
            removes = len(_SPLIT.split(members.delete)) if members.delete else 0
            out.append({"title": "Member changes not confirmed",
                        "text": f"The export failed while {adds} member addition(s) and {removes} removal(s) were "
                                "pending: Graph may have applied some of them before it stopped, and the result "
                                "cannot say which. The next sync compares the members again and writes only what "
                                "is missing.", "entries": [], "more": 0, "step": export.number})
    confirmed = export.details.get(d.CONFIRMED_BY_READ_BACK) if export else None
    if confirmed and confirmed != "True" and not result.warnings:
        out.append({"title": "Read-back", "text": f"The export is not confirmed by reading the object back: "
                                                  f"{confirmed}", "entries": [], "more": 0,
                    "step": export.number if export else None})
    s = result.status_info
    if not out and s.status == Status.SUCCESS and s.additional_details:
        out.append({"title": "Additional details", "text": s.additional_details, "entries": [], "more": 0,
                    "step": None})
    return out


def write_state(result: SyncResult) -> tuple[str, str]:
    """Whether the Modified Properties reached Entra ID: (label for each row, sentence above the table)."""
    status = result.status_info.status
    stopped = status in (Status.FAILURE, Status.SKIPPED)
    step = stopping_step(result)
    where = f" at step {step.number} ({step.name})" if step else ""
    if result.staging_mode or result.what_if:
        mode = "What-if" if result.what_if else "Staging mode"
        if stopped:
            return ("not written (a real run stops too)",
                    f"{mode}: nothing was sent to Entra ID, and a real run would stop{where} as well, so none of "
                    "these changes would be written.")
        persisted = " and nothing was recorded locally" if result.what_if else ""
        return (f"would be written ({'what-if' if result.what_if else 'staging'})",
                f"{mode}: these changes would be written; nothing was sent to Entra ID{persisted}.")
    export = result.step(StepKey.EXPORT)
    if not stopped:
        confirmed = export.details.get(d.CONFIRMED_BY_READ_BACK) if export else None
        if confirmed and confirmed != "True":
            return ("written (not confirmed yet)", f"Written to Entra ID; the read-back says: {confirmed}")
        if confirmed == "True":
            return ("written", "Written to Entra ID, and confirmed by reading the object back.")
        return ("written", "Written to Entra ID.")
    if export is not None and export.details.get(d.EXPORT_STEP_RESULT) == d.EXPORT_FAILED_WHILE_SENDING:
        return ("not confirmed (the export failed while writing)",
                "The export failed while writing to Microsoft Graph: Entra ID may hold part of these changes. "
                "The next sync compares again and writes only what is missing.")
    if export is not None and export.status == Status.FAILURE:
        return ("not written", "Not written: the export found the failure before sending anything to Microsoft "
                               "Graph.")
    return ("not written", f"Not written: the run stopped{where} before the export.")


def _duration(result: SyncResult) -> str:
    if not result.end_time:
        return ""
    ms = int((result.end_time - result.start_time).total_seconds() * 1000)
    return f"{ms / 1000:.3f} s"


def _local(ts: dt.datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if ts else ""


def render(result: SyncResult, bytecode_cache: Any = None) -> str:
    s = result.status_info
    info = lookup(s.error_code) if s.error_code else None
    refs = References.of(result)
    export = result.step(StepKey.EXPORT)
    export_attrs = {a.name: a for a in (export.attributes if export else [])}
    label, sentence = write_state(result)
    modified = []
    for p in result.modified_properties:
        base = p.name[:-len(" - Count")] if p.name.endswith(" - Count") else p.name
        a = export_attrs.get(base)
        multi = a if a and a.is_multi_valued else None
        modified.append({"p": p, "anchor": f"export-attr-{base}" if a else None, "written": label,
                         "adds": _values(multi, multi.add if multi else None, refs.entry),
                         "deletes": _values(multi, multi.delete if multi else None, refs.entry)})
    steps = []
    for st in result.steps:
        details = {k: v for k, v in st.details.items() if k != d.ATTRIBUTE_INFO_JSON}
        steps.append({"st": st, "details": details, "attrs": _attr_rows(st.attributes, refs),
                      "anchors": st.key == StepKey.EXPORT})
    found = findings(result)
    good = s.status == Status.SUCCESS and not s.error_code and not found
    initial = "steps" if s.status == Status.SUCCESS else "troubleshooting"
    # without JavaScript the sections follow one another: what went wrong comes first
    order = ["steps", "troubleshooting", "modified", "summary"] if initial == "steps" else \
        ["troubleshooting", "steps", "modified", "summary"]
    return environment(bytecode_cache).get_template("report.html.j2").render(
        nonce=secrets.token_urlsafe(16), r=result, s=s, steps=steps, modified=modified, info=info, version=__version__,
        start=_local(result.start_time), end=_local(result.end_time), start_utc=iso(result.start_time),
        duration=_duration(result), Status=Status, StepType=StepType, StepKey=StepKey, banner=_banner(result),
        findings=found, good=good, initial=initial, order=order, written_sentence=sentence,
        object_name=object_name(result))


# -- the file ---------------------------------------------------------------------------------------------------
def object_name(result: SyncResult) -> str:
    """The object's name: the value of its DN's leaf RDN ('Smith, John'), else what identifies it."""
    for dn in (result.distinguished_name, result.source_identity.name or ""):
        try:
            return dnlib.rdn_value(dn)
        except dnlib.InvalidDnError:
            continue
    return result.source_identity.name or result.distinguished_name or ""


def safe_name(name: str) -> str:
    """*name* as a part of a file name on every platform: letters and digits of any script, '-', '_' and '.'
    kept (NFC), every run of anything else one '_', no leading or trailing '.', '_' or '-', bounded in
    characters and UTF-8 bytes. Never a path separator, a control or format character, or a reserved name."""
    text = unicodedata.normalize("NFC", name)
    text = re.sub(r"_+", "_", "".join(c if c.isalnum() or c in "-." else "_" for c in text))
    text = text.strip("._-")[:MAX_NAME_CHARS]
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    return text.rstrip("._-")


def report_name(when: dt.datetime, suffix: int = 0, name: str = "") -> str:
    """ADSyncSingleObjectSyncResult-yyyyMMddHHmmss[-<safe name>][_N].htm (local time)."""
    stamp = when.astimezone().strftime("%Y%m%d%H%M%S")
    part = safe_name(name)
    return (f"{REPORT_PREFIX}{stamp}" + (f"-{part}" if part else "") + (f"_{suffix}" if suffix else "")
            + ".htm")


def write(result: SyncResult, directory: Path, bytecode_cache: Any = None) -> Path:
    """Write the report as ADSyncSingleObjectSyncResult-yyyyMMddHHmmss-<name>.htm (local time), owner-only.

    The original's prefix and timestamp come first (tools that look for the newest report by prefix keep
    finding it), then the object's name, so that a folder of reports says whose each one is. A report of
    the same second and object is never overwritten: the name then gets _2, _3, ... The file is created
    new (O_EXCL) and never through a link, so a name planted in a shared report directory is skipped; a
    missing directory is created owner-only, an existing one is used as it is.
    """
    html = render(result, bytecode_cache)
    platform.make_private_dir(directory)
    when, name = result.start_time, object_name(result)
    for n in range(1, 1000):
        path = directory / report_name(when, n if n > 1 else 0, name)
        try:
            fh = platform.open_private(path, "w", exclusive=True)
        except (FileExistsError, platform.UnsafeFileError):
            continue
        with fh:
            fh.write(html)
        return path
    raise OSError(f"no free report name in {directory}")
