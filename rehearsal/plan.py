"""The rehearsal's plan as text: the console line, a Markdown report and an SVG chart, from the same rows.

Pure: values in, text out (no pulumi, no files). `rehearsal/__main__.py` builds one `ServiceRow` per
service per run and one `RunHeader` per run as it plays a scenario; the console prints
`console_line(row)` under `header.line()`, and `--markdown` / `--chart` render the collected rows:

    rows = [ServiceRow(run=3, kind="up", at="09:12", outcome="applied", service="web", phase="progressing",
                       step=1, blue=90, green=10, versions="1.27->1.28", created=0, updated=1, replaced=0,
                       deleted=0, reason="advanced to step 1")]
    console_line(rows[0])  # '  web      progressing step 1  blue  90 / green  10  1.27->1.28  +0 ~1 ±0 -0  advanced to step 1'
    render_chart(rows)     # '<svg ...>' one panel per service, each color's weight over the runs
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["up", "preview"]
Outcome = Literal["applied", "preview", "blocked", "failed"]
"""applied: an `up` that changed the stack; preview: shown, nothing applied; blocked: a mandatory resource
policy stopped the `up` before any change; failed: the `up` ended in an error."""

COLORS = ("blue", "green")


@dataclass(frozen=True)
class PolicyFinding:
    """One policy violation as the report shows it."""

    level: str
    """"advisory" or "mandatory"."""
    policy: str
    message: str
    stack_policy: bool = False
    """A stack policy: evaluated once the resources changed, so it cannot have blocked them."""

    def text(self) -> str:
        where = " (stack policy)" if self.stack_policy else ""
        return f"{self.level} {self.policy}{where}: {self.message}"


@dataclass(frozen=True)
class RunHeader:
    """One run of the scenario: what the console prints above its services."""

    number: int
    kind: Kind
    at: str
    """The simulated clock, HH:MM (UTC)."""
    note: str | None = None
    outcome: Outcome = "applied"
    error: str | None = None
    findings: tuple[PolicyFinding, ...] = ()
    """Violations not tied to one service's resources (stack-wide findings, shared resources)."""

    def line(self) -> str:
        return f"run {self.number} ({self.kind}, {self.at})" + (f" — {self.note}" if self.note else "")


@dataclass(frozen=True)
class ServiceRow:
    """One service after one run: the record the run left (blocked or failed: the one the stack kept)."""

    run: int
    kind: Kind
    at: str
    outcome: Outcome
    service: str
    phase: str
    step: int | None
    """Index into the plan; None when no rollout is in flight."""
    blue: int
    green: int
    """Percent of production traffic on each color; they sum to 100."""
    versions: str
    """`1.27`, or `1.27->1.28` while a candidate is in flight."""
    created: int
    updated: int
    replaced: int
    deleted: int
    reason: str
    gate: str | None = None
    """The gate verdict the console shows (`[gate advance]`), None when it shows none."""
    findings: tuple[PolicyFinding, ...] = ()
    """Policy violations on this service's resources in this run."""

    @property
    def shown_step(self) -> str:
        return "-" if self.step is None else str(self.step)

    @property
    def changes(self) -> str:
        return f"+{self.created} ~{self.updated} ±{self.replaced} -{self.deleted}"

    def weight(self, color: str) -> int:
        return {"blue": self.blue, "green": self.green}[color]


def console_line(row: ServiceRow) -> str:
    """The line `./run rehearse` prints for a service (the README's samples are these lines)."""
    verdict = f"  [gate {row.gate}]" if row.gate else ""
    return (f"  {row.service:<8} {row.phase:<11} step {row.shown_step:<2} blue {row.blue:>3} / green {row.green:>3}"
            f"  {row.versions:<11} {row.changes}  {row.reason}{verdict}")


# --- Markdown -----------------------------------------------------------------------------------

_RUN_LABEL = {"applied": "{kind}", "preview": "{kind}", "blocked": "{kind}, blocked", "failed": "{kind}, failed"}
_OUTCOME_TEXT = {
    "applied": "applied",
    "preview": "preview: shown, nothing applied",
    "blocked": "blocked by a mandatory resource policy: nothing applied, outputs kept",
    "failed": "failed",
}


def render_markdown(headers: Sequence[RunHeader], rows: Sequence[ServiceRow], *, title: str) -> str:
    """The plan as Markdown: the runs, then per service a table with one row per run."""
    lines = [f"## {_cell(title)}", "",
             "Weights are the percent of production traffic on each color (blue / green). Changed: resources "
             "`+` created, `~` updated, `±` replaced, `-` deleted. A blocked run shows the state the stack kept "
             "and no changes; a failed run the state the stack kept and the changes it attempted.", "",
             "| run | when | outcome | note |", "|---:|---|---|---|"]
    for header in headers:
        outcome = _OUTCOME_TEXT[header.outcome] + (f": {header.error}" if header.error else "")
        lines.append(f"| {header.number} | {header.kind}, {header.at} | {_cell(outcome)} | {_cell(header.note or '')} |")
    stack_wide = [(h.number, f) for h in headers for f in h.findings]
    if stack_wide:
        lines += ["", "Policy findings not tied to one service:", ""]
        lines += [f"- run {number}: {_cell(finding.text())}" for number, finding in stack_wide]
    for service in _services(rows):
        lines += ["", f"### {_cell(service)}", "",
                  "| run | phase | step | blue / green | versions | gate | changed | policy | reason |",
                  "|---|---|---:|---|---|---|---|---|---|"]
        for row in (r for r in rows if r.service == service):
            label = _RUN_LABEL[row.outcome].format(kind=row.kind)
            policy = "<br>".join(_cell(f.text()) for f in row.findings) or "–"
            lines.append(
                f"| {row.run} ({label}) | {row.phase} | {row.shown_step} | {row.blue} / {row.green} | {_cell(row.versions)}"
                f" | {_cell(row.gate or '–')} | {row.changes} | {policy} | {_cell(row.reason)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text that stays inside one table cell and is not read as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _services(rows: Sequence[ServiceRow]) -> list[str]:
    return sorted({row.service for row in rows})


# --- SVG chart ----------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
STROKE = {"blue": "#1f6fd1", "green": "#2a9d3a"}
WIDTH = 760
LEFT, RIGHT = 64, 24
"""Horizontal margins of every panel's plot area."""
INSET = 16
"""Between the plot area's sides and the first and last run."""
TOP = 56
"""Room for the title and the legend above the first panel."""
PANEL_HEIGHT = 210
PLOT_TOP, PLOT_HEIGHT = 30, 130
"""Within a panel: the plot area's offset and height (below it: run ticks and the axis label)."""
Y_TICKS = (0, 25, 50, 75, 100)
_MARKER_STATE = {"applied": "", "preview": " (preview)", "blocked": " (blocked: weights kept)",
                 "failed": " (failed: weights kept)"}


def render_chart(rows: Sequence[ServiceRow], *, title: str = "Traffic per color over the runs") -> str:
    """An SVG: one panel per service, each color's weight (0..100 %) against the run number.

    A line joins the runs that left the weights in place (applied, blocked, failed); a preview's weights are
    a hollow marker off the line, as a preview moves no traffic. Every marker carries `data-run`,
    `data-color` and `data-weight` and a tooltip.
    """
    services = _services(rows)
    runs = sorted({row.run for row in rows})
    height = TOP + PANEL_HEIGHT * max(len(services), 1)
    svg = ET.Element("svg", {"xmlns": SVG_NS, "width": str(WIDTH), "height": str(height),
                             "viewBox": f"0 0 {WIDTH} {height}", "font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = title
    _text(svg, LEFT, 20, title, **{"font-size": "15", "font-weight": "bold", "class": "chart-title"})
    _legend(svg, LEFT, 40)
    if not rows:
        _text(svg, LEFT, TOP + 20, "no runs", **{"class": "empty"})
    for index, service in enumerate(services):
        _panel(svg, service, [r for r in rows if r.service == service], runs, TOP + index * PANEL_HEIGHT)
    ET.indent(svg)
    return ET.tostring(svg, encoding="unicode") + "\n"


def _legend(svg: ET.Element, x: float, y: float) -> None:
    legend = ET.SubElement(svg, "g", {"class": "legend"})
    for color in COLORS:
        ET.SubElement(legend, "line", {"x1": _n(x), "y1": _n(y), "x2": _n(x + 24), "y2": _n(y),
                                       "stroke": STROKE[color], "stroke-width": "2.5", "data-color": color})
        _text(legend, x + 30, y + 4, f"{color} (% of traffic)")
        x += 150
    ET.SubElement(legend, "circle", {"cx": _n(x + 6), "cy": _n(y), "r": "4", "fill": "white", "stroke": "#555",
                                     "stroke-width": "1.5"})
    _text(legend, x + 16, y + 4, "preview (not applied)")


def _panel(svg: ET.Element, service: str, rows: list[ServiceRow], runs: list[int], top: float) -> None:
    panel = ET.SubElement(svg, "g", {"class": "panel", "data-service": service})
    plot_top, plot_bottom = top + PLOT_TOP, top + PLOT_TOP + PLOT_HEIGHT
    left, right = LEFT, WIDTH - RIGHT

    def x_of(run: int) -> float:
        if len(runs) == 1:
            return (left + right) / 2
        return left + INSET + (right - left - 2 * INSET) * runs.index(run) / (len(runs) - 1)

    def y_of(weight: float) -> float:
        return plot_bottom - PLOT_HEIGHT * weight / 100

    _text(panel, left, top + 18, service, **{"font-size": "13", "font-weight": "bold", "class": "panel-title"})
    for value in Y_TICKS:
        y = y_of(value)
        ET.SubElement(panel, "line", {"class": "grid", "data-value": str(value), "x1": _n(left), "y1": _n(y),
                                      "x2": _n(right), "y2": _n(y), "stroke": "#ddd"})
        _text(panel, left - 8, y + 4, str(value), **{"class": "y-tick", "text-anchor": "end"})
    for run in runs:
        x = x_of(run)
        ET.SubElement(panel, "line", {"class": "x-tick", "data-value": str(run), "x1": _n(x), "y1": _n(plot_bottom),
                                      "x2": _n(x), "y2": _n(plot_bottom + 5), "stroke": "#555"})
        _text(panel, x, plot_bottom + 18, str(run), **{"class": "x-tick-label", "text-anchor": "middle"})
    ET.SubElement(panel, "line", {"class": "axis", "x1": _n(left), "y1": _n(plot_bottom), "x2": _n(right),
                                  "y2": _n(plot_bottom), "stroke": "#555"})
    ET.SubElement(panel, "line", {"class": "axis", "x1": _n(left), "y1": _n(plot_top), "x2": _n(left),
                                  "y2": _n(plot_bottom), "stroke": "#555"})
    _text(panel, (left + right) / 2, plot_bottom + 36, "run", **{"class": "axis-label", "text-anchor": "middle"})
    middle = (plot_top + plot_bottom) / 2
    _text(panel, left - 40, middle, "% of traffic", **{"class": "axis-label", "text-anchor": "middle",
                                                       "transform": f"rotate(-90 {_n(left - 40)} {_n(middle)})"})
    held = [r for r in rows if r.outcome != "preview"]
    for color in COLORS:
        ET.SubElement(panel, "polyline", {
            "class": "series", "data-color": color, "fill": "none", "stroke": STROKE[color], "stroke-width": "2.5",
            "points": " ".join(f"{_n(x_of(r.run))},{_n(y_of(r.weight(color)))}" for r in held)})
        for row in rows:
            preview = row.outcome == "preview"
            marker = ET.SubElement(panel, "circle", {
                "class": "point preview" if preview else "point", "data-color": color, "data-run": str(row.run),
                "data-weight": str(row.weight(color)), "cx": _n(x_of(row.run)), "cy": _n(y_of(row.weight(color))),
                "r": "4", "fill": "white" if preview else STROKE[color], "stroke": STROKE[color], "stroke-width": "1.5"})
            ET.SubElement(marker, "title").text = (
                f"{service}, run {row.run}{_MARKER_STATE[row.outcome]}: {color} {row.weight(color)} %")


def _text(parent: ET.Element, x: float, y: float, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), **attributes})
    element.text = text
    return element


def _n(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
