"""The HTML of the run's report (:mod:`harness.load.report`): one self-contained page, no script.

Every value from the report directory goes through :func:`html.escape`; the plots are inline SVG made by
:mod:`harness.load.plot`, which escapes its own text.  The page's Content-Security-Policy forbids fetching
anything (no CDN, no font, no image), so it reads the same offline, from a CI artifact or an e-mail.  Each
section has a stable id (``verdict``, ``run``, ``over-time``, ``percentiles``, ``errors``, ``delivery``,
``replay``, ``files``) and says "not available" when the run left nothing for it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.checks import Title
from harness.load import files

if TYPE_CHECKING:
    from harness.load.report import Failures, ReportData

SECTIONS = (("verdict", "Verdict"), ("run", "Run"), ("over-time", "Over time"), ("percentiles", "Percentiles"),
            ("errors", "Errors"), ("delivery", "Delivery"), ("replay", "Replay"), ("files", "Files"))
"""Each section's id and its entry in the page's navigation."""

MEANINGS = {str(title): title.meaning for title in Title}
"""What each failure title of the catalogue means, for the reader."""

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --pass: #1a7f37; --fail: #d1242f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
       color: var(--ink); background: var(--soft); }
header { background: #24292f; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header p { margin: 0; color: #d0d7de; }
header a { color: #9cd0ff; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px; position: sticky; top: 0; }
nav a { margin-right: 18px; color: var(--ink); text-decoration: none; font-weight: 500; }
nav a:hover { text-decoration: underline; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 24px; margin: 16px 0; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
p.note, .muted { color: var(--muted); }
p.na { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 12px; font-weight: 600; font-size: 12px; }
.badge.pass { background: #dafbe1; color: var(--pass); }
.badge.fail { background: #ffebe9; color: var(--fail); }
.badge.cancelled { background: #fff8c5; color: #7d4e00; }
.verdict { font-size: 20px; font-weight: 700; margin: 0 0 8px; }
.verdict.pass { color: var(--pass); }
.verdict.fail, .verdict.cancelled { color: var(--fail); }
ul.reasons { margin: 0 0 12px; padding-left: 20px; color: var(--fail); }
dl.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 16px; margin: 0; }
dl.figures div { background: var(--soft); border-radius: 6px; padding: 8px 12px; }
dl.figures dt { color: var(--muted); font-size: 12px; }
dl.figures dd { margin: 0; font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
pre { background: var(--soft); border: 1px solid #eaeef2; border-radius: 6px; padding: 8px 12px; margin: 4px 0;
      white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
.example { border-left: 3px solid var(--line); padding-left: 12px; margin: 10px 0; }
figure { margin: 8px 0 16px; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid #eaeef2; border-radius: 6px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
"""


def e(value: object) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value))


def render(data: ReportData) -> str:
    """The whole page."""
    summary = data.summary or {}
    sections = [_verdict(summary), _run(summary), _over_time(data), _percentiles(summary, data.percentile_svg),
                _errors(summary, data.failures, data.failure_files), _delivery(summary), _replay(summary),
                _files(data.linked, data.failure_files)]
    title = f"capture-harness load report: {summary.get('scenario', 'run')}"
    target = f" against {e(summary['target'])}" if summary.get("target") else ""
    missing = "" if data.summary is not None else (
        f"<p>{e(files.SUMMARY)} is not available: the run ended before its summary was written.</p>")
    locust = (f' &middot; <a href="{e(files.LOCUST_HTML)}">Locust\'s own report</a>'
              if files.LOCUST_HTML in data.linked else "")
    nav = "".join(f'<a href="#{anchor}">{e(label)}</a>' for anchor, label in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<link rel=\"icon\" href=\"data:,\">\n<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{e(title)}</h1><p>{e(summary.get('scenario', 'a load run'))} traffic{target}; report written "
        f"{e(data.generated)} from {e(data.report_dir)}{locust}</p>{missing}</header>\n<nav>{nav}</nav>\n<main>\n"
        + "\n".join(sections) + "\n</main>\n</body>\n</html>\n")


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{e(heading)}</h2>\n{body}\n</section>'


def _na(what: str) -> str:
    return f'<p class="na">not available: {e(what)}</p>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = ()) -> str:
    """A table of cells already escaped; the columns in ``numeric`` right-aligned."""
    right = set(numeric)
    head = "".join(f'<th{" class=num" if i in right else ""}>{e(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in right else ""}>{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _figures(pairs: Iterable[tuple[str, object]]) -> str:
    return '<dl class="figures">' + "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in pairs) + "</dl>"


def _fmt(value: object, spec: str = ",.0f", unit: str = "") -> str:
    """A number as text, "-" for a missing one."""
    return f"{value:{spec}}{unit}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _badge(passed: bool) -> str:
    return '<span class="badge pass">pass</span>' if passed else '<span class="badge fail">FAIL</span>'


def _verdict(summary: Mapping[str, Any]) -> str:
    verdict, checks = summary.get("verdict"), summary.get("checks")
    if not isinstance(verdict, Mapping):
        return _section("verdict", "Verdict", _na("the run wrote no verdict (it was stopped, or failed, before "
                                                  "its summary was written)"))
    cancelled = bool(summary.get("cancelled") or verdict.get("cancelled"))
    word, css = ("CANCELLED", "cancelled") if cancelled else ("PASSED", "pass") if verdict.get("passed") \
        else ("FAILED", "fail")
    reasons = verdict.get("reasons") or []
    body = [f'<p class="verdict {css}">{word}</p>']
    cancel = summary.get("cancel")
    if cancelled and isinstance(cancel, Mapping):
        body.append(f"<p>Cancelled by {e(cancel.get('signal', 'a signal'))} during {e(cancel.get('phase', '?'))}, "
                    f"after {_fmt(cancel.get('after_s'), 'g', ' s')} of {_fmt(cancel.get('planned_s'), 'g', ' s')} "
                    "planned: the figures below are what ran until then.</p>")
    if reasons:
        body.append('<ul class="reasons">' + "".join(f"<li>{e(reason)}</li>" for reason in reasons) + "</ul>")
    if isinstance(checks, list) and checks:
        rows = [(e(c.get("name", "")), e(c.get("text", "")) + (f'<div class="muted">{e(c["reason"])}</div>'
                                                            if c.get("reason") else ""), _badge(bool(c.get("passed"))))
                for c in checks if isinstance(c, Mapping)]
        body.append("<h3>Checks applied</h3>" + _table(("check", "figure and limit", "result"), rows))
        body.append('<p class="note">Only the checks applied are listed: a threshold not given was not checked.</p>')
    else:
        body.append(_na("no checks were recorded"))
    return _section("verdict", "Verdict", "\n".join(body))


def _run(summary: Mapping[str, Any]) -> str:
    if "requests" not in summary:
        return _section("run", "Run", _na("the run's figures are in summary.json, which was not written"))
    plan = summary.get("open_model")
    options = summary.get("options") or {}
    model = (f"open model, {_fmt(plan.get('arrival_rate'), ',.6g')} req/s planned" if isinstance(plan, Mapping)
             else f"closed loop, {summary.get('users', '?')} users")
    pairs: list[tuple[str, object]] = [
        ("target", summary.get("target", "-")), ("scenario", summary.get("scenario", "-")), ("model", model),
        ("duration", _fmt(summary.get("duration_s"), "d", " s")), ("processes", summary.get("processes", "-")),
        ("users", summary.get("users", "-")), ("requests", _fmt(summary.get("requests"))),
        ("failures", _fmt(summary.get("failures"))), ("error rate", _fmt(summary.get("error_rate"), ".2%")),
        ("requests/s", _fmt(summary.get("rps"), ",.1f")), ("events/s", _fmt(summary.get("events_per_s"), ",.0f")),
        ("API key", summary.get("api_key", "-"))]
    if options.get("spawn_rate") is not None:
        pairs.insert(6, ("spawn rate", _fmt(options["spawn_rate"], "g", " users/s")))
    body = _figures(pairs)
    if isinstance(plan, Mapping):
        body += "<h3>Open-model plan</h3>" + _figures([
            ("planned sends", _fmt(plan.get("planned"))), ("sent", _fmt(plan.get("sent"))),
            ("missed (generator behind)", _fmt(plan.get("missed"))), ("still due at the stop", _fmt(plan.get("unsent"))),
            ("planned req/s", _fmt(plan.get("planned_rps"), ",.1f")),
            ("achieved req/s", _fmt(plan.get("achieved_rps"), ",.1f"))])
    return _section("run", "Run", body)


def _over_time(data: ReportData) -> str:
    if data.over_time is None:
        return _section("over-time", "Throughput and latency over time",
                        _na(f"Locust's stats history ({files.STATS_HISTORY_CSV}) is missing or empty"))
    throughput, latencies = data.over_time
    note = ('<p class="note">From Locust\'s stats history, one row a second: requests and failures per second '
            "between two rows; the percentiles are Locust's, over its last few seconds (a rolling window), of the "
            "service time from the actual send (in the open model the corrected latency is under Percentiles).</p>")
    return _section("over-time", "Throughput and latency over time",
                    f'{note}<figure id="plot-throughput">{throughput}</figure>'
                    f'<figure id="plot-latency">{latencies}</figure>')


def _percentiles(summary: Mapping[str, Any], plot_svg: str | None) -> str:
    body = []
    hdr = summary.get("latency_hdr_ms")
    if isinstance(hdr, Mapping) and hdr:
        keys = (*files.HDR_PERCENTILES, "max")
        rows = []
        for name, row in hdr.items():
            shown = [kind for kind in ("corrected", "uncorrected", "service")
                     if isinstance(row, Mapping) and isinstance(row.get(kind), Mapping)]
            for kind in shown:  # the name on the first line of its rows only
                count = row.get("requests", 0) + (row.get("missed", 0) if kind == "corrected" else 0)
                rows.append((_name(name) if kind == shown[0] else "", e(_KIND_LABELS[kind]), _fmt(count),
                             *(_fmt(row[kind].get(k), ",.4g") for k in keys)))
        if summary.get("open_model"):
            heading, note = "open model", (
                "<b>corrected</b>: from each request's intended send time (no coordinated omission; missed sends "
                "at their lag when given up); <b>uncorrected</b>: the service time from the actual send. The "
                "checks use the corrected figures.")
        else:
            heading, note = "closed model: service time", (
                "<b>service time</b>: from the actual send until the answer, every request Locust counted. The "
                "checks use these figures.")
        body += [(f'<h3 id="hdr">HdrHistogram percentiles ({heading})</h3><p class="note">Milliseconds. {note} '
                  "Three significant digits, never rounded like Locust's.</p>"),
                 _table(("name", "latency", "count", *keys), rows, numeric=range(2, 3 + len(keys)))]
        body.append(f'<figure id="plot-percentiles">{plot_svg}<figcaption>Latency by percentile, the total of '
                    "every request name</figcaption></figure>" if plot_svg else _na("the percentile plot (latency.json "
                                                                                     "has no histograms)"))
    stats = summary.get("latency_ms")
    if isinstance(stats, Mapping) and stats:
        percentiles = tuple(files.STATS_PERCENTILES)
        locust = summary.get("locust_latency_ms")
        locust = locust if isinstance(locust, Mapping) else stats  # a summary from before locust_latency_ms
        rows = [(_name(name), _fmt(row.get("requests")), _fmt(row.get("failures")), _fmt(row.get("rps"), ",.1f"),
                 *(_fmt(mine.get(k), ",.0f") for k in (*percentiles, "max"))) for name, row in stats.items()
                if isinstance(row, Mapping) and isinstance(mine := locust.get(name, {}), Mapping)]
        body += ['<h3 id="locust-percentiles">Locust\'s percentiles per request name</h3><p class="note">'
                 "Milliseconds, as Locust reports them, for comparison: the service time from the actual send, in "
                 "Locust's buckets (rounded to 10 ms above 100 ms, to 100 ms above 1 s)"
                 + ("; the checks use the HdrHistogram figures above" if hdr else "") + ".</p>",
                 _table(("name", "requests", "failures", "req/s", *percentiles, "max"), rows, numeric=range(1, 8))]
    return _section("percentiles", "Latency percentiles", "\n".join(body) or _na("the run recorded no latencies"))


_KIND_LABELS = {"corrected": "corrected", "uncorrected": "uncorrected", "service": "service time"}


def _name(name: str) -> str:
    """A request name as a table cell; the total row's in bold."""
    return f"<b>{e(name)}</b>" if name == files.TOTAL else e(name)


def _title_of(error: str, titles: Iterable[str]) -> str:
    """The failure title an error text of Locust's stats starts with (``server error (503)`` -> ``server error``)."""
    return next((t for t in sorted(titles, key=len, reverse=True) if error == t or error.startswith(f"{t} (")), error)


def _errors(summary: Mapping[str, Any], failures: Mapping[str, Failures], failure_files: Sequence[str]) -> str:
    counted = [error for error in summary.get("errors") or [] if isinstance(error, Mapping)]
    if not counted and not failures:
        text = ("<p>No request failed.</p>" if summary.get("requests") else _na("no request was sent")) \
            if "errors" in summary else _na("no error counts nor failure details")
        return _section("errors", "Errors by title", text)
    known = set(MEANINGS) | set(failures)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for error in counted:
        groups.setdefault(_title_of(str(error.get("error", "")), known), []).append(error)
    for title in failures:
        groups.setdefault(title, [])
    body = [(f'<p class="note">Failures grouped by title (the catalogue shared with the contract suite). Each '
             f"example's curl command sends the failing request again; every failure is in "
             f"{e(', '.join(failure_files) or files.FAILURES_GLOB)}.</p>")]
    for title, rows in sorted(groups.items(), key=lambda item: -sum(int(r.get("occurrences", 0)) for r in item[1])):
        rows.sort(key=lambda row: -int(row.get("occurrences", 0)))
        body.append(_error_group(title, rows, failures.get(title)))
    return _section("errors", "Errors by title", "\n".join(body))


def _error_group(title: str, rows: Sequence[Mapping[str, Any]], details: Failures | None) -> str:
    meaning = MEANINGS.get(title, "")
    total = sum(int(row.get("occurrences", 0)) for row in rows)
    out = [f'<h3 class="error-title">{e(title)} <span class="muted">({_fmt(total)} in Locust\'s stats)</span></h3>']
    if meaning:
        out.append(f'<p class="note">{e(meaning)}</p>')
    if rows:
        out.append(_table(("request name", "error", "occurrences"),
                          [(e(r.get("name", "")), e(r.get("error", "")), _fmt(r.get("occurrences"))) for r in rows],
                          numeric=(2,)))
    if details is None or not details.examples:
        out.append(_na("no failure details with a curl command were recorded for this title"))
        return "\n".join(out)
    shown = len(details.examples)
    out.append(f'<p class="note">{shown} of {details.count:,} recorded failure details:</p>')
    for example in details.examples:
        out.append(f'<div class="example"><div><b>{e(example.get("name", ""))}</b></div>'
                   f'<pre class="detail">{e(example.get("detail", ""))}</pre>'
                   f'<pre class="curl">{e(example.get("curl", "(no curl command recorded)"))}</pre></div>')
    return "\n".join(out)


def _delivery(summary: Mapping[str, Any]) -> str:
    delivery = summary.get("delivery")
    if not isinstance(delivery, Mapping):
        return _section("delivery", "Delivery ledger", _na("the ledger was not reconciled"))
    pairs = [("events sent", _fmt(delivery.get("sent"))), ("acknowledged", _fmt(delivery.get("acknowledged")))]
    if not delivery.get("checked"):
        why = delivery.get("unchecked") or "the target has no /_harness/ inspection API"
        body = _figures(pairs) + _na(f"what was stored: {why}") + _per_event(delivery.get("per_event"), checked=False)
        return _section("delivery", "Delivery ledger", body)
    lost = int(delivery.get("lost") or 0)
    pairs += [("stored", _fmt(delivery.get("stored"))), ("lost after acknowledgement", _fmt(lost)),
              ("duplicated", _fmt(delivery.get("duplicated"))), ("unexpected", _fmt(delivery.get("unexpected")))]
    body = _figures(pairs) + '<p class="note">Every acknowledged event must be stored: one lost fails the run.</p>'
    body += _per_event(delivery.get("per_event"))
    if lost:
        body += "<p>Lost, e.g.: " + ", ".join(f"<code>{e(u)}</code>" for u in delivery.get("lost_examples", [])) + "</p>"
    return _section("delivery", "Delivery ledger", body)


def _per_event(figures: Any, checked: bool = True) -> str:
    """v1's per-event outcomes (nothing for a run whose answers were not read per event); whether a dropped
    event was stored is known only when the store was read (``checked``)."""
    if not isinstance(figures, Mapping) or not figures:
        return ""
    tags = ", ".join(f"{_fmt(count)} {tag or 'untagged'}" for tag, count in figures.get("drops_by_tag", {}).items())
    pairs = [("dropped", _fmt(figures.get("dropped")) + (f" ({tags})" if tags else "")),
             ("stored after drop", _fmt(figures.get("stored_after_drop")) if checked else "-"),
             ("retry answers", _fmt(figures.get("retried"))), ("retries resolved", _fmt(figures.get("resolved_retries"))),
             ("unresolved at the end", _fmt(figures.get("unresolved_retries"))),
             ("given up", _fmt(figures.get("retries_given_up")))]
    return ('<h3>Per event (v1)</h3>' + _figures(pairs)
            + '<p class="note">An event answered drop must not be stored: one stored fails the run.</p>')


def _replay(summary: Mapping[str, Any]) -> str:
    if "seed" not in summary:
        return _section("replay", "Seed and replay", _na("the seed is in summary.json, which was not written"))
    command = summary.get("replay") or (f"capture-harness load --seed {summary['seed']} --scenario "
                                        f"{summary.get('scenario', 'mixed')} -u {summary.get('users', 20)} "
                                        f"-t {summary.get('duration_s', 20)}s")
    key = summary.get("api_key", "")
    body = (_figures([("seed", summary["seed"])]) + "<h3>Command line</h3>"
            f'<pre id="replay-command">{e(command)}</pre><p class="note">The same seed sends the same requests, '
            "with the same options and checks. "
            + (f"Set CAPTURE_HARNESS_API_KEY to the key ({e(key)}) first: it is never written out. "
               if "$CAPTURE_HARNESS_API_KEY" in command else "")
            + ("The values of the -H headers are not recorded (they may hold credentials): fill them in."
               if ": …" in command else "") + "</p>")
    return _section("replay", "Seed and replay", body)


def _files(linked: Sequence[str], failure_files: Sequence[str]) -> str:
    names = [*linked, *failure_files]
    if not names:
        return _section("files", "Files", _na("no other file in the report directory"))
    items = "".join(f'<li><a href="{e(name)}">{e(name)}</a>'
                    f'{" (Locust&#x27;s own report)" if name == files.LOCUST_HTML else ""}</li>' for name in names)
    return _section("files", "Files in the report directory", f"<ul>{items}</ul>")
