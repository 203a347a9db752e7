"""Eval reports: the JSON document, a Markdown summary and a self-contained HTML page.

The JSON shape is `{"suite", "backends": {NAME: {"metrics": {...}, "cases": [...]}}}`.
The HTML page embeds its plots as base64 PNG (matplotlib, no network, no external files):
per-metric bars per backend, latency distributions per backend, and a per-case table with
question, answer, citations and what went wrong. All text from suites and answers is
escaped. This module does not run the assistant or compute metrics.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import QUALITY_METRICS
from evals.runner import STAGES, BackendRun


def report_json(suite_name: str, runs: Sequence[BackendRun]) -> dict[str, Any]:
    """The whole result as one JSON-ready object (the `--json` output)."""
    return {
        "suite": suite_name,
        "backends": {
            run.name: {"metrics": dict(run.metrics), "cases": [s.to_json() for s in run.steps]}
            for run in runs
        },
    }


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.0f}"
    return str(value)


def markdown_summary(report: Mapping[str, Any]) -> str:
    """A Markdown table: one row per metric, one column per backend, then failing cases."""
    backends = report["backends"]
    names = list(backends)
    keys: list[str] = []
    for data in backends.values():
        keys += [k for k in data["metrics"] if k not in keys]
    lines = [
        f"## Eval: {report['suite']}",
        "",
        "| metric | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for key in keys:
        cells = [_fmt(backends[n]["metrics"].get(key)) for n in names]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for name in names:
        failing = [c for c in backends[name]["cases"] if c["problems"]]
        if not failing:
            continue
        lines += ["", f"**{name}**: {len(failing)} question(s) with problems"]
        for case in failing[:10]:
            lines.append(f"- `{case['id']}`: {'; '.join(case['problems'])}")
        if len(failing) > 10:
            lines.append(f"- … and {len(failing) - 10} more (see the HTML report)")
    return "\n".join(lines) + "\n"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for the metric bars and the latency distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    backends = report["backends"]
    names = list(backends)
    plots: list[tuple[str, str]] = []

    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(QUALITY_METRICS))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [backends[name]["metrics"].get(k) for k in QUALITY_METRICS]
        heights = [v if v is not None else 0.0 for v in values]
        ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=name)
    ax.set_xticks(x, QUALITY_METRICS, rotation=35, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (0-1)")
    ax.legend()
    plots.append(("Metrics per backend", _png(fig)))
    plt.close(fig)

    fig, axes = plt.subplots(1, len(STAGES), figsize=(12, 3.5))
    for ax, stage in zip(axes, STAGES, strict=True):
        data = [
            [c["timings_ms"][stage] for c in backends[n]["cases"] if stage in c["timings_ms"]]
            for n in names
        ]
        if any(data):
            ax.boxplot([d or [0.0] for d in data], tick_labels=names, showfliers=True)
        ax.set_title(f"{stage} (ms)")
    plots.append(("Latency per stage", _png(fig)))
    plt.close(fig)
    return plots


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3} td.num{text-align:right} tr.bad td{background:#fff4f4}
.cite{color:#555;font-size:12px} .prob{color:#a00}
"""


def _metric_table(report: Mapping[str, Any]) -> str:
    backends = report["backends"]
    names = list(backends)
    keys: list[str] = []
    for data in backends.values():
        keys += [k for k in data["metrics"] if k not in keys]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = [f"<tr><th>metric</th>{head}</tr>"]
    for key in keys:
        cells = "".join(
            f'<td class="num">{html.escape(_fmt(backends[n]["metrics"].get(key)))}</td>'
            for n in names
        )
        rows.append(f"<tr><td>{html.escape(key)}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _case_table(name: str, cases: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    rows = [
        "<tr><th>id</th><th>question</th><th>expected</th><th>answer</th>"
        "<th>citations</th><th>what went wrong</th></tr>"
    ]
    for c in cases:
        expected = (
            "(unanswerable)"
            if c["unanswerable"]
            else ", ".join(c["expected_answers"] + [f"📄 {s}" for s in c["expected_sources"]])
        )
        cites = "<br>".join(
            f'<span class="cite">[{e(str(ct["n"]))}] {e(ct["source"])}: '
            f"{e(ct['text'][:200])}</span>"
            for ct in c["citations"]
        )
        answer = ("🚫 " if c["abstained"] else "") + c["answer"]
        problems = "<br>".join(f'<span class="prob">{e(p)}</span>' for p in c["problems"])
        klass = ' class="bad"' if c["problems"] else ""
        rows.append(
            f"<tr{klass}><td>{e(c['id'])}</td><td>{e(c['question'])}</td><td>{e(expected)}</td>"
            f"<td>{e(answer)}</td><td>{cites}</td><td>{problems}</td></tr>"
        )
    return f"<h3>{e(name)}: per question</h3><table>" + "".join(rows) + "</table>"


def write_html(report: Mapping[str, Any], path: Path) -> None:
    """A single self-contained HTML file (plots embedded)."""
    title = f"Eval report: {report['suite']}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>Metrics</h2>",
        _metric_table(report),
    ]
    for plot_title, png in _plots(report):
        parts.append(f"<h2>{html.escape(plot_title)}</h2>")
        parts.append(f'<img alt="{html.escape(plot_title)}" src="data:image/png;base64,{png}">')
    parts.append("<h2>Cases</h2>")
    for name, data in report["backends"].items():
        parts.append(_case_table(name, data["cases"]))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def write_outputs(report: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write results.json, summary.md and report.html into out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "results.json",
        "markdown": out_dir / "summary.md",
        "html": out_dir / "report.html",
    }
    write_json(report, paths["json"])
    paths["markdown"].write_text(markdown_summary(report), encoding="utf-8")
    write_html(report, paths["html"])
    return paths
