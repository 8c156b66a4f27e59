"""The scan's HTML summary: one self-contained file, a table of every object scanned (status, ErrorCode,
object, reason), counts per status and code, the whole-view findings, and each problem row expanding to
its ten steps. Sorting and filtering need JavaScript; without it the table is complete and readable.

Built as the single-object report is (pybridge.report.html): markupsafe Markup format strings, every value
from the directory or Graph escaped as data."""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any, Iterator

from markupsafe import Markup

from .. import __version__, platform

_NOTHING = Markup("")


def render(summary: Any) -> Iterator[str]:
    """The page in pieces (a scan of many objects is never one string in memory): the head and the counts,
    then one piece per object, then the end of the page."""
    return _pieces(summary, secrets.token_urlsafe(16))


def _pieces(summary: Any, nonce: str) -> Iterator[str]:
    yield str(_head(summary, nonce) + _counts(summary) + _across_objects(summary) + _objects_head())
    for row in summary.rows:  # read back one at a time from the scan's spool (RowSpool)
        yield str(_object_row(row))
    yield str(Markup('</tbody></table>\n</main>\n<script nonce="{}">\n').format(nonce) + _SCRIPT
              + Markup("</script>\n</body>\n</html>"))


def _head(s: Any, nonce: str) -> Markup:
    # the Content-Security-Policy runs no script but the one bound to this page's nonce, and fetches nothing
    head = Markup(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'script-src \'nonce-{}\'; img-src data:">\n'
        '<title>pybridge scan summary - {} objects</title>\n').format(nonce, s.scanned)
    header = Markup(
        '</head>\n<body>\n<header>\n<h1>pybridge scan summary</h1>\n'
        '<div>{:,} objects scanned, {} &ndash; {}{} &middot; staging mode: nothing was written to Entra ID &middot; '
        '<span class="muted">pybridge {}</span></div>\n</header>\n<main>\n').format(
        s.scanned, s.started, s.ended, Markup(" <strong>(interrupted)</strong>") if s.interrupted else "",
        __version__)
    if s.failed:
        header += Markup('<div class="banner" role="alert"><strong>{} object(s) would fail{}.</strong> '
                         'The table below lists each with its ErrorCode and reason.</div>').format(
            s.statuses.get("Failure", 0),
            Markup(", and {} problem(s) span several objects").format(len(s.findings)) if s.findings else "")
    return head + _STYLE + header


def _by_status(statuses: dict[str, int]) -> list[tuple[str, int]]:
    """The statuses sorted by name, whatever their case (as Jinja2's dictsort sorted them)."""
    return sorted(statuses.items(), key=lambda item: item[0].lower() if isinstance(item[0], str) else item[0])


def _badge(status: Any) -> Markup:
    return Markup('<span class="badge {0}">{0}</span>').format(status)


def _counts(s: Any) -> Markup:
    rows = _NOTHING.join([Markup("<tr><td>{}</td><td>{}</td></tr>").format(_badge(status), n)
                          for status, n in _by_status(s.statuses)])
    if s.out_of_scope:
        rows += Markup("<tr><td>In excluded containers (not run)</td><td>{}</td></tr>").format(s.out_of_scope)
    out = Markup('<h2>Counts</h2>\n<table><thead><tr><th scope="col">Status</th><th scope="col">Objects</th></tr>'
                 '</thead><tbody>\n{}</tbody></table>\n').format(rows)
    if s.codes:
        out += Markup('<table><thead><tr><th scope="col">ErrorCode</th><th scope="col">Objects</th></tr></thead>'
                      '<tbody>\n{}</tbody></table>').format(
            _NOTHING.join([Markup("<tr><td>{}</td><td>{}</td></tr>").format(code, n)
                           for code, n in s.codes.most_common()]))
    return out


def _across_objects(s: Any) -> Markup:
    """What only the whole view shows: values claimed twice, joins to deleted objects, containers unread."""
    out = _NOTHING
    if s.findings:
        out += Markup('<h2>Problems across objects</h2>\n<table><thead><tr><th scope="col">ErrorCode</th>'
                      '<th scope="col">Value</th><th scope="col">Explanation</th></tr></thead><tbody>\n{}'
                      '</tbody></table>').format(
            _NOTHING.join([Markup('<tr><td>{}</td><td class="dn">{}</td><td>{}</td></tr>').format(
                f.code, f.value, f.reason) for f in s.findings]))
    if s.joined_deleted:
        out += Markup('<h2>Joined to an Entra object that no longer exists</h2>\n<p class="muted">Deleted in the '
                      'cloud: a sync matches these again, and creates them anew if nothing matches.</p>\n'
                      '<table><thead><tr><th scope="col">Object</th><th scope="col">Entra id it was joined to</th>'
                      '</tr></thead><tbody>\n{}</tbody></table>').format(
            _NOTHING.join([Markup('<tr><td class="dn">{}</td><td class="dn">{}</td></tr>').format(dn, entra_id)
                           for dn, entra_id in s.joined_deleted]))
    if s.unreadable:
        out += Markup("<h2>Containers that could not be searched</h2><ul>{}</ul>").format(
            _NOTHING.join([Markup('<li class="dn">{}</li>').format(c) for c in s.unreadable]))
    return out


def _objects_head() -> Markup:
    return Markup(
        '<h2>Objects</h2>\n<div class="filter"><label>Status <select id="f-status"><option value="">all</option>'
        '<option>Failure</option><option>Skipped</option><option>Success</option></select></label>\n'
        '<label>Search <input id="f-text" type="search" placeholder="ErrorCode, DN or reason"></label></div>\n'
        '<table id="objects"><thead><tr>\n'
        '<th scope="col"><button type="button" data-col="0">Status</button></th>'
        '<th scope="col"><button type="button" data-col="1">ErrorCode</button></th>\n'
        '<th scope="col"><button type="button" data-col="2">Object</button></th>'
        '<th scope="col"><button type="button" data-col="3">Reason</button></th></tr></thead><tbody>\n')


def _object_row(row: dict[str, Any]) -> Markup:
    """One object (a row of RowSpool); a problem's row folds its ten steps and their details."""
    status = row.get("status", "")
    out = Markup('<tr data-status="{}"><td>{}</td><td>{}</td><td class="dn">{}</td>\n<td>{}').format(
        status, _badge(status), row.get("code", ""), row.get("dn", ""), row.get("reason", ""))
    if row.get("steps"):
        steps = _NOTHING.join([Markup("<tr><td>{}. {}</td><td>{}</td><td>{}</td></tr>").format(
            st["number"], st["name"], _badge(st["status"]),
            _NOTHING.join([Markup('<div><span class="muted">{}:</span> {}</div>').format(k, v)
                           for k, v in st["details"].items()]))
            for st in row["steps"]])
        out += Markup("<details><summary>The ten steps</summary><table><tbody>\n{}</tbody></table></details>").format(
            steps)
    return out + Markup("</td></tr>\n")


def write(summary: Any, directory: Path) -> Path:
    """PyBridgeScanSummary-yyyyMMddHHmmss.htm (local time), owner-only, created new and never through a link
    (a name planted in a shared directory is skipped), never overwriting another."""
    if not directory.exists():
        platform.make_private_dir(directory)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    for n in range(1, 1000):
        path = directory / (f"PyBridgeScanSummary-{stamp}" + (f"_{n}" if n > 1 else "") + ".htm")
        try:
            fh = platform.open_private(path, exclusive=True)
        except (FileExistsError, platform.UnsafeFileError):
            continue
        with fh:
            for piece in render(summary):
                fh.write(piece)
        return path
    raise OSError(f"no free report name in {directory}")


# -- the page's own style and script: static text, no value is ever put into them ---------------------------
_STYLE = Markup("""\
<style>
:root { --ok:#107c10; --bad:#c50f1f; --skip:#8a6d00; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "Segoe UI", system-ui, -apple-system, sans-serif; margin: 0; color: #1f2328; }
header { padding: 16px 20px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 18px 0 8px; }
main { padding: 0 20px 24px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
.Success { background: var(--ok); } .Failure { background: var(--bad); } .Skipped { background: var(--skip); }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
td.dn { font-family: Consolas, "Courier New", monospace; font-size: 12.5px; overflow-wrap: anywhere; }
#objects > tbody > tr > td.dn { width: 34%; min-width: 16em; }
th { background: #f6f8fa; }
th button { font: inherit; font-weight: 600; background: none; border: none; padding: 0; cursor: pointer; }
.filter { display: none; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
html.js .filter { display: flex; }
details > summary { cursor: pointer; color: #0969da; }
.banner { border: 2px solid var(--bad); border-radius: 6px; padding: 8px 12px; margin: 12px 0; background: #fff5f5; }
@media print { .filter { display: none !important; } details { display: block; } }
</style>
""")

# Sorting and filtering the objects' table; without JavaScript the table is complete and readable.
_SCRIPT = Markup("""\
document.documentElement.classList.add("js");
(function () {
  var table = document.getElementById("objects"), body = table.tBodies[0];
  var status = document.getElementById("f-status"), text = document.getElementById("f-text");
  function apply() {
    var s = status.value, t = text.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (r) {
      var show = (!s || r.getAttribute("data-status") === s) && (!t || r.textContent.toLowerCase().indexOf(t) >= 0);
      r.hidden = !show;
    });
  }
  status.addEventListener("change", apply); text.addEventListener("input", apply);
  Array.prototype.forEach.call(table.tHead.querySelectorAll("button"), function (b) {
    var asc = true;
    b.addEventListener("click", function () {
      var col = +b.getAttribute("data-col"), rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (x, y) { var a = x.cells[col].textContent, c = y.cells[col].textContent; return asc ? a.localeCompare(c) : c.localeCompare(a); });
      asc = !asc; rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
""")
