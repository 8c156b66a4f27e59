"""The HTML report: one self-contained file, built with markupsafe.

No CDN, script or font is fetched from anywhere; the page is readable opened from
disk, printable, usable on a narrow screen, and without JavaScript the tabs
degrade to sections one after another. Directory values are always data: the page
is put together from markupsafe ``Markup`` format strings, whose arguments are
escaped unless they are Markup themselves, and nothing from the directory is ever
made Markup. (Jinja2 rendered it until its import alone cost every sync process
some 45 ms of CPU: issue 16, docs/performance.md.)

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
from typing import Any, Callable

from markupsafe import Markup, escape
from msgspec import Struct, field

from .. import __version__, platform
from ..core import dn as dnlib
from ..core.errorcodes import lookup
from ..core.model import AttributeInfo, ProvisioningStep, Status, StepKey, SyncResult, iso
from ..sync import details as d

MAX_LIST = 200  # values listed per multi-valued attribute; the rest are counted ("... and N more")
_SPLIT = re.compile(r"(?<!\\); ")  # AttributeInfo joins values with "; " (RFC 4514 escapes ';' inside DNs)
MEMBER_ATTRIBUTES = {"member", "members", "manager"}  # their values are DNs (AD side) or ids (Entra side)

REPORT_PREFIX = "ADSyncSingleObjectSyncResult-"  # the original's; remote transfers look for PREFIX*.htm
MAX_NAME_CHARS = 48  # the object's name in the file name, bounded (paths on Windows stay short)
MAX_NAME_BYTES = 96  # and in UTF-8 bytes (255-byte file names on Linux and macOS)

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
        """One value as the report shows it: a member with name, DN and id where known, else the text."""
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


# -- what went wrong, and what to look at ----------------------------------------------------------------------
def stopping_step(result: SyncResult) -> ProvisioningStep | None:
    """The step that failed, or that found the object out of scope (it carries the Reason detail)."""
    failed = next((st for st in result.steps if st.status == Status.FAILURE), None)
    return failed or next((st for st in result.steps if d.REASON in st.details), None)


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


# -- the page ---------------------------------------------------------------------------------------------------
# Every function below returns Markup. Text goes in only as an argument of Markup.format (or through escape,
# or a Markup + str, which escapes the str): markupsafe escapes it there, so a directory value can never
# become markup, whichever section shows it.

_NOTHING = Markup("")


def render(result: SyncResult) -> str:
    """The report's page."""
    s = result.status_info
    found = findings(result)
    # a run that did not succeed opens with the banner, which names the step that stopped it
    stop = stopping_step(result) if s.status != Status.SUCCESS else None
    initial = "steps" if s.status == Status.SUCCESS else "troubleshooting"
    steps, troubleshooting = _steps_tab(result, stop), _troubleshooting_tab(result, stop, found)
    # without JavaScript the sections follow one another: what went wrong comes first
    first = [steps, troubleshooting] if initial == "steps" else [troubleshooting, steps]
    nonce = secrets.token_urlsafe(16)
    return str(_NOTHING.join([
        _head(result, nonce), _header(result, initial),
        _banner(result, stop, found) if s.status != Status.SUCCESS else _notice(result, found),
        _tab_list(initial), Markup("<main>\n"), *first, _modified_tab(result), _summary_tab(result),
        Markup('</main>\n<script nonce="{}">\n').format(nonce), _SCRIPT, Markup("</script>\n</body>\n</html>")]))


def _title(result: SyncResult) -> str:
    return result.source_identity.name or result.distinguished_name


def _head(result: SyncResult, nonce: str) -> Markup:
    # the Content-Security-Policy runs no script but the one bound to this page's nonce, and fetches nothing
    return Markup(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'script-src \'nonce-{}\'; img-src data:">\n'
        '<title>ADSync Single Object Sync Result - {}</title>\n').format(nonce, _title(result)) \
        + _STYLE + Markup("</head>\n")


def _badge(status: Status) -> Markup:
    return Markup('<span class="badge {0}">{0}</span>').format(status.value)


def _header(result: SyncResult, initial: str) -> Markup:
    s = result.status_info
    mode = _NOTHING
    if result.staging_mode:
        mode += Markup(" &middot; <strong>Staging mode</strong>")
    if result.what_if:
        mode += Markup(" (what-if)")
    if result.computer_name:
        mode += Markup(" &middot; computer <strong>{}</strong>").format(result.computer_name)
    return Markup(
        '<body data-initial="{}">\n<header>\n<h1>ADSync Single Object Sync Result</h1>\n<div class="dn">{}</div>\n'
        '<div>{}\n Action: <strong>{}</strong>{} &middot; <span class="muted">{}</span></div>\n</header>\n').format(
        initial, _title(result), _badge(s.status), result.action.value, mode, _local(result.start_time))


def _warning_count(found: list[dict[str, Any]]) -> str:
    return f"{len(found)} warning{_plural(len(found))}"


def _plural(n: int) -> str:
    return "s" if n != 1 else ""


def _banner(result: SyncResult, stop: ProvisioningStep | None, found: list[dict[str, Any]]) -> Markup:
    """Above the tabs, for a run that did not succeed: its status, ErrorCode, reason, recommended action,
    and links to the step that stopped it, to the troubleshooting tab and to Microsoft's documentation."""
    s = result.status_info
    info = lookup(s.error_code) if s.error_code else None
    out = Markup('<div class="banner {0}" id="banner" role="alert">\n'
                 '<div>{1}<strong class="code">{2}</strong></div>\n').format(
        s.status.value, _badge(s.status), s.error_code or "")
    if s.reason:
        out += Markup('<p class="reason">{}</p>').format(s.reason)
    if s.recommended_action:
        out += Markup('<p class="action"><strong>Recommended action:</strong> {}</p>').format(s.recommended_action)
    out += Markup('<p class="links">')
    if stop:
        out += Markup('<a href="#step-{0}" id="banner-step">Step {0} ({1}) {2}</a> &middot; ').format(
            stop.number, stop.name, "failed" if stop.status == Status.FAILURE else "stopped the run")
    elif all(st.status == Status.SKIPPED and not st.details for st in result.steps):
        out += Markup('<span class="muted">The run stopped before any step ran.</span> &middot; ')
    out += Markup('<a href="#troubleshooting">Troubleshooting &amp; Recommendations</a>')
    if found:
        out += Markup(" ({})").format(_warning_count(found))
    if info and info.link:
        out += Markup(' &middot; <a href="{}" rel="noopener noreferrer">Microsoft\'s documentation</a>').format(
            info.link)
    return out + Markup("</p>\n</div>\n")


def _notice(result: SyncResult, found: list[dict[str, Any]]) -> Markup:
    """Above the tabs, for a run that succeeded with warnings: how many, and the first."""
    if not found:
        return _NOTHING
    return Markup('<div class="notice" id="notice" role="status"><strong>{}, with {}:</strong> {}{}. '
                  '<a href="#troubleshooting">See Troubleshooting &amp; Recommendations</a></div>\n').format(
        result.status_info.status.value, _warning_count(found), found[0]["title"],
        " and more" if len(found) > 1 else "")


def _tab_list(initial: str) -> Markup:
    return Markup(
        '<nav role="tablist" aria-label="Report sections">\n'
        '<a href="#steps" role="tab" data-tab="steps" aria-selected="{}">Steps</a>\n'
        '<a href="#troubleshooting" role="tab" data-tab="troubleshooting" aria-selected="{}">'
        'Troubleshooting &amp; Recommendations</a>\n'
        '<a href="#modified" role="tab" data-tab="modified" aria-selected="false">Modified Properties</a>\n'
        '<a href="#summary" role="tab" data-tab="summary" aria-selected="false">Summary</a>\n'
        '</nav>\n').format(_selected(initial == "steps"), _selected(initial == "troubleshooting"))


def _selected(selected: bool) -> str:
    return "true" if selected else "false"


# -- values -------------------------------------------------------------------------------------------------------
def _entry(x: dict[str, Any]) -> Markup:
    """One value: a member by the name in its DN, its DN and its Entra id (or that it is not in Entra ID);
    anything else as its text."""
    if not x.get("dn"):
        return escape(x["text"])
    out = Markup('<span class="who"><strong>{}</strong>').format(x["name"] or x["dn"])
    if x["name"]:
        out += Markup(' <span class="muted">{}</span>').format(x["dn"])
    if x["id"]:
        out += Markup(' <code class="id">{}</code>').format(_after_hyphens(x["id"]))
    elif x["unresolved"]:
        out += Markup(' <em class="warntext">not in Entra ID</em>')
    return out + Markup("</span>")


def _entry_items(entries: list[dict[str, Any]], more: int) -> Markup:
    """Values as list items, then how many were left out (MAX_LIST)."""
    out = _NOTHING.join([Markup("<li>{}</li>").format(_entry(x)) for x in entries])
    if more:
        out += Markup('<li class="muted">&hellip; and {} more (the JSON result lists them all)</li>').format(more)
    return out


def _value_list(v: dict[str, Any] | None) -> Markup:
    """An attribute's values (_values): a single value as it is, several folded under their count."""
    if v is None:
        return _NOTHING
    if not v["multi"]:
        return _entry(v["shown"][0])
    if v["count"] == 0:
        return _NOTHING
    return Markup('<details><summary>{} value{}</summary><ul class="values">{}</ul></details>').format(
        v["count"], _plural(v["count"]), _entry_items(v["shown"], v["more"]))


# -- the tabs -----------------------------------------------------------------------------------------------------
def _steps_tab(result: SyncResult, stop: ProvisioningStep | None) -> Markup:
    refs = References.of(result)
    steps = _NOTHING.join([_step(st, refs, stopped=stop is not None and stop.number == st.number)
                           for st in result.steps])
    return Markup('<section class="tab" id="steps" role="tabpanel">\n<h2>Steps</h2>\n{}</section>\n').format(steps)


def _step(st: ProvisioningStep, refs: References, stopped: bool) -> Markup:
    clock = Markup('<span class="muted">{}</span>').format(st.timestamp.astimezone().strftime("%H:%M:%S")) \
        if st.timestamp else _NOTHING
    out = Markup('<div class="step step-{0}{1}" id="step-{2}">\n'
                 '<div class="step-head">{3}\n<h3>{2}. {4}</h3><span class="muted">{5}</span>\n{6}</div>\n'
                 '<div>{7}</div>\n').format(
        st.status.value, " stopped" if stopped else "", st.number, _badge(st.status), st.name, st.type.value, clock,
        st.description)
    details = {k: v for k, v in st.details.items() if k != d.ATTRIBUTE_INFO_JSON}
    if details:
        out += Markup('<div class="scroll"><table><thead><tr><th scope="col" class="k">Detail</th>'
                      '<th scope="col">Value</th></tr></thead><tbody>\n{}</tbody></table></div>\n').format(
            _NOTHING.join([Markup('<tr><td class="k">{}</td><td class="v">{}</td></tr>').format(k, v)
                           for k, v in details.items()]))
    if st.attributes:
        export = st.key == StepKey.EXPORT  # the Modified Properties link to the export's rows
        rows = _NOTHING.join([_attribute_row(a, refs, export) for a in st.attributes])
        out += Markup('<details {}><summary>Attribute Info ({})</summary>\n'
                      '<div class="scroll"><table><thead><tr><th scope="col">Name</th>'
                      '<th scope="col">Is Multi-Valued</th><th scope="col">Type</th><th scope="col">Value</th>'
                      '<th scope="col">Value Add</th><th scope="col">Value Delete</th><th scope="col">Operation</th>'
                      '<th scope="col">Sync Rule</th><th scope="col">Mapping Type</th><th scope="col">Data Source</th>'
                      '</tr></thead><tbody>\n{}</tbody></table></div></details>\n').format(
            "open" if export else "", len(st.attributes), rows)
    return out + Markup("</div>\n")


def _attribute_row(a: AttributeInfo, refs: References, anchored: bool) -> Markup:
    anchor = Markup(' id="export-attr-{}"').format(a.name) if anchored else _NOTHING
    return Markup('<tr{}><td class="n">{}</td><td>{}</td><td>{}</td><td class="v">{}</td><td class="v">{}</td>'
                  '<td class="v">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n').format(
        anchor, _humps(a.name), str(a.is_multi_valued), a.type, _value_list(_values(a, a.value, refs.entry)),
        _value_list(_values(a, a.add, refs.entry)), _value_list(_values(a, a.delete, refs.entry)),
        a.operation or "", a.sync_rule or "", a.mapping_type or "", a.data_source or "")


def _troubleshooting_tab(result: SyncResult, stop: ProvisioningStep | None, found: list[dict[str, Any]]) -> Markup:
    s = result.status_info
    head = Markup('<section class="tab" id="troubleshooting" role="tabpanel">\n'
                  '<h2>Troubleshooting &amp; Recommendations</h2>\n')
    if s.status == Status.SUCCESS and not s.error_code and not found:
        return head + Markup("<p>Looking good! There's nothing to troubleshoot.</p>\n</section>\n")
    return head + _status_table(result, stop) + _warnings(found) + Markup("</section>\n")


def _status_table(result: SyncResult, stop: ProvisioningStep | None) -> Markup:
    s = result.status_info
    info = lookup(s.error_code) if s.error_code else None
    stopped = bool(s.error_code) or s.status != Status.SUCCESS
    out = Markup('<table><tbody>\n<tr><th scope="row">Status</th><td>{}</td></tr>\n').format(_badge(s.status))
    if stopped:
        out += Markup('<tr><th scope="row">Error code</th><td>{}</td></tr>\n'
                      '<tr><th scope="row">Reason</th><td>{}</td></tr>\n'
                      '<tr><th scope="row">Recommended action</th><td>{}</td></tr>\n').format(
            s.error_code or "", s.reason or "", s.recommended_action or "")
    if stop:
        out += Markup('<tr><th scope="row">Step</th><td><a href="#step-{0}">{0}. {1}</a> ({2})</td></tr>').format(
            stop.number, stop.name, stop.status.value)
    if s.additional_details:
        out += Markup('<tr><th scope="row">Additional details</th><td class="v">{}</td></tr>').format(
            _long_text(s.additional_details))
    if stopped:
        out += Markup('<tr><th scope="row">Error category</th><td>{}</td></tr>').format(s.error_category or "")
    if info and info.link:
        out += Markup('<tr><th scope="row">Documentation</th><td><a href="{0}" rel="noopener noreferrer">{0}</a>'
                      '</td></tr>').format(info.link)
    return out + Markup("</tbody></table>\n")


def _long_text(text: str) -> Markup:
    """A text of more than 400 characters folded under its first 160."""
    if len(text) > 400:
        return Markup("<details><summary>{}&hellip;</summary>{}</details>").format(text[:160], text)
    return escape(text)


def _warnings(found: list[dict[str, Any]]) -> Markup:
    out = Markup('<h3 id="warnings">Warnings ({})</h3>\n').format(len(found))
    if not found:
        return out + Markup("<p>None: the run has no warning besides the status above.</p>")
    return out + Markup('<ul class="findings">\n{}</ul>\n').format(_NOTHING.join([_finding(f) for f in found]))


def _finding(f: dict[str, Any]) -> Markup:
    out = Markup('<li class="finding"><strong>{}</strong>').format(f["title"])
    if f["step"]:
        out += Markup(' (<a href="#step-{0}">step {0}</a>)').format(f["step"])
    out += Markup(": {}\n").format(f["text"])
    entries = f["entries"]
    if entries:  # the references left out of the export, listed open when they are few
        out += Markup('<details{}><summary>{} not in Entra ID</summary><ul class="values">{}</ul></details>').format(
            " open" if len(entries) <= 20 else "", len(entries) + f["more"], _entry_items(entries, f["more"]))
    return out + Markup("</li>\n")


def _modified_tab(result: SyncResult) -> Markup:
    head = Markup('<section class="tab" id="modified" role="tabpanel">\n<h2>Modified Properties</h2>\n')
    if not result.modified_properties:
        return head + Markup("<p>No properties were modified.</p></section>\n")
    refs = References.of(result)
    export = result.step(StepKey.EXPORT)
    export_attrs = {a.name: a for a in (export.attributes if export else [])}
    label, sentence = write_state(result)
    rows = []
    for p in result.modified_properties:
        base = p.name[:-len(" - Count")] if p.name.endswith(" - Count") else p.name
        a = export_attrs.get(base)
        # a row links to its attribute's row in the export step; a multi-valued one lists what was added/removed
        name = Markup('<a href="#export-attr-{}">{}</a>').format(base, p.name) if a else escape(p.name)
        multi = a if a and a.is_multi_valued else None
        old, new = p.old_value if p.old_value is not None else "", p.new_value if p.new_value is not None else ""
        deletes = _values(multi, multi.delete if multi else None, refs.entry)
        adds = _values(multi, multi.add if multi else None, refs.entry)
        if deletes:
            old = escape(old) + Markup("<br>removed: {}").format(_value_list(deletes))
        if adds:
            new = escape(new) + Markup("<br>added: {}").format(_value_list(adds))
        rows.append(Markup('<tr><td class="k">{}</td>\n<td class="v">{}</td>\n<td class="v">{}</td>\n'
                           '<td class="written">{}</td></tr>\n').format(name, old, new, label))
    return head + Markup(
        '<p id="written">{}</p>\n<div class="scroll"><table><thead><tr><th scope="col" class="k">Name</th>'
        '<th scope="col">Old Value</th><th scope="col">New Value</th><th scope="col" class="w">Written to Entra ID</th>'
        '</tr></thead><tbody>\n{}</tbody></table></div>\n</section>\n').format(sentence, _NOTHING.join(rows))


def _summary_tab(result: SyncResult) -> Markup:
    s, source, target = result.status_info, result.source_identity, result.target_identity
    line = Markup("\n")  # the optional rows (computer, run id) end without one: the page Jinja2 rendered, exactly
    table = _NOTHING.join([_summary_row(*row) + line for row in [
        ("Action", result.action.value),
        ("Status", s.status.value),
        ("Start Time", f"{_local(result.start_time)} ({iso(result.start_time)})"),
        ("End Time", _local(result.end_time)),
        ("Duration", _duration(result)),
        ("Source System", "Active Directory"),
        ("Source Object Name", _title(result), "v"),
        ("Source Object Type", source.type or ""),
        ("Source Object ID", source.id or "", "v"),
        ("Target System", "Azure Active Directory"),
        ("Target Object Name", target.name or "", "v"),
        ("Target Object Type", target.type or ""),
        ("Target Object ID", target.id or "", "v"),
        ("Staging Mode", ("Yes" if result.staging_mode else "No")
         + (" (what-if: nothing persisted)" if result.what_if else ""))]])
    if result.computer_name:
        table += _summary_row("Computer", result.computer_name)
    table += _summary_row("pybridge version", __version__) + line
    table += _summary_row("Configuration file", result.config_path or "", "v") + line
    if result.run_id:
        table += _summary_row("Run ID", result.run_id, "v")
    return Markup('<section class="tab" id="summary" role="tabpanel">\n<h2>Summary</h2>\n<table><tbody>\n{}'
                  '</tbody></table>\n</section>\n').format(table)


def _summary_row(header: str, value: str, cell_class: str = "") -> Markup:
    return Markup('<tr><th scope="row">{}</th><td{}>{}</td></tr>').format(
        header, Markup(' class="{}"').format(cell_class) if cell_class else _NOTHING, value)


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


def write(result: SyncResult, directory: Path) -> Path:
    """Write the report as ADSyncSingleObjectSyncResult-yyyyMMddHHmmss-<name>.htm (local time), owner-only.

    The original's prefix and timestamp come first (tools that look for the newest report by prefix keep
    finding it), then the object's name, so that a folder of reports says whose each one is. A report of
    the same second and object is never overwritten: the name then gets _2, _3, ... The file is created
    new (O_EXCL) and never through a link, so a name planted in a shared report directory is skipped; a
    missing directory is created owner-only, an existing one is used as it is.
    """
    html = render(result)
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


# -- the page's own style and script: static text, no value is ever put into them ---------------------------
_STYLE = Markup("""\
<style>
:root { --ok:#107c10; --bad:#c50f1f; --skip:#8a6d00; --warn:#b35c00; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "Segoe UI", system-ui, -apple-system, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { padding: 12px 20px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 18px 0 8px; }
h3 { font-size: 15px; margin: 0; }
.dn { font-family: Consolas, "Courier New", monospace; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.Success { background: var(--ok); } .Failure { background: var(--bad); } .Skipped { background: var(--skip); } .Warning { background: var(--warn); }
.banner { margin: 12px 20px 0; padding: 10px 14px; border: 1px solid var(--bad); border-left: 6px solid var(--bad); border-radius: 6px; background: #fff5f5; }
.banner.Skipped { border-color: var(--skip); background: #fffbea; } .banner.Warning { border-color: var(--warn); background: #fff8f0; }
.banner p { margin: 4px 0; }
.banner .code { font-size: 16px; margin-left: 6px; overflow-wrap: anywhere; }
.notice { margin: 12px 20px 0; padding: 8px 14px; border: 1px solid var(--warn); border-left: 6px solid var(--warn); border-radius: 6px; background: #fff8f0; }
nav { display: flex; flex-wrap: wrap; gap: 4px; padding: 8px 20px 0; border-bottom: 1px solid var(--line); }
nav a { padding: 8px 12px; text-decoration: none; color: #0969da; border: 1px solid transparent; border-bottom: none; border-radius: 6px 6px 0 0; }
nav a[aria-selected="true"] { color: #1f2328; border-color: var(--line); background: #fff; margin-bottom: -1px; font-weight: 600; }
main { padding: 0 20px 24px; }
section.tab { padding-top: 4px; }
html.js section.tab[hidden] { display: none; }
.step { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; padding: 10px 12px; }
.step.step-Failure, .step.stopped { border-color: var(--bad); border-left: 6px solid var(--bad); }
.step.stopped.step-Skipped { border-color: var(--skip); }
.step-head { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.muted { color: var(--muted); }
.warntext { color: var(--warn); font-style: normal; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
/* Names and headers wrap between words only; the values (DNs, ids, JSON without spaces) wrap anywhere. */
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; word-break: normal; overflow-wrap: normal; }
th { background: #f6f8fa; font-weight: 600; }
th.k, td.k { width: 30%; min-width: 11em; }
th[scope="row"] { width: 15em; min-width: 9em; }
td.n { min-width: 8em; }
th.w { width: 11em; }
.scroll { overflow-x: auto; }
td.v { font-family: Consolas, "Courier New", monospace; font-size: 12.5px; white-space: pre-wrap; overflow-wrap: anywhere; }
td.v .who strong { font-family: "Segoe UI", system-ui, -apple-system, sans-serif; }
code.id { font-size: 0.95em; background: #f6f8fa; padding: 0 3px; border-radius: 3px; overflow-wrap: normal; } /* breaks after its hyphens only */
ul.values { margin: 4px 0; padding-left: 18px; }
ul.findings { padding-left: 20px; } ul.findings > li { margin: 6px 0; }
ul.findings .values { overflow-wrap: anywhere; }
details > summary { cursor: pointer; color: #0969da; }
:target { outline: 2px solid #0969da; }
@media (max-width: 700px) { header, main, nav { padding-left: 8px; padding-right: 8px; } .banner, .notice { margin-left: 8px; margin-right: 8px; } th, td { font-size: 12px; } }
@media print {
  nav { display: none; } html.js section.tab[hidden] { display: block; } details { display: block; }
  .scroll { overflow: visible; } body { font-size: 11px; } th, td { padding: 2px 4px; font-size: 10px; } td.v { font-size: 9.5px; }
  header, main { padding-left: 0; padding-right: 0; } .banner, .notice { margin-left: 0; margin-right: 0; }
  td.n { min-width: 0; }
  .step { break-inside: avoid; } .banner { break-inside: avoid; }
}
</style>
""")

# The tabs: a link to anything inside a tab opens that tab first (without JavaScript, sections follow one another).
_SCRIPT = Markup("""\
(function () {
  document.documentElement.classList.add("js");
  var tabs = Array.prototype.slice.call(document.querySelectorAll("nav [data-tab]"));
  function show(name) {
    tabs.forEach(function (t) {
      var on = t.getAttribute("data-tab") === name;
      t.setAttribute("aria-selected", on ? "true" : "false");
      document.getElementById(t.getAttribute("data-tab")).hidden = !on;
    });
  }
  // A link to anything inside a tab (a step, an attribute row, a warning) opens that tab first.
  function reveal(id) {
    var el = id ? document.getElementById(id) : null;
    var section = el && el.closest ? el.closest("section.tab") : null;
    if (!section) { return false; }
    show(section.id);
    var d = el.closest("details");
    if (d) { d.open = true; }
    if (el !== section) { el.scrollIntoView(); }
    return true;
  }
  tabs.forEach(function (t) {
    t.addEventListener("click", function (e) { e.preventDefault(); show(t.getAttribute("data-tab")); });
  });
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest('a[href^="#"]') : null;
    if (!a || a.hasAttribute("data-tab")) { return; }
    if (reveal(a.getAttribute("href").slice(1))) { e.preventDefault(); }
  });
  if (!reveal(window.location.hash.slice(1))) { show(document.body.getAttribute("data-initial") || "steps"); }
}());
""")
