"""The nightly report as one self-contained HTML page: inline CSS, inline SVG drawn here, a few lines of JS.

No network at all (no CDN, no web font, no image file): the page opens from a file on a laptop or as
an artifact of the nightly run. Every text that comes from the data (labels, ids, details) is
HTML-escaped here, in one place: ``_e``.
"""

from __future__ import annotations

import colorsys
from html import escape

from interests.evaluation.report import METRICS

# Tableau's 20 colours: distinct on white and for most colour-blind readers in their first ten.
_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
_METHOD_STYLES = {
    "user": ("#1f77b4", ""), "subinterest": ("#2ca02c", ""), "ease": ("#ff7f0e", "6 4"),
    "popular": ("#7f7f7f", "2 4"), "text": ("#9467bd", "2 4"),
}
_METRIC_NAMES = {"recall_at_10": "recall@10", "recall_at_50": "recall@50", "ndcg_at_10": "nDCG@10"}

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #dde1e8; --card: #ffffff; --bg: #f4f6f9;
        --ok: #1b7f3b; --bad: #b42318; --bar: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
header { background: #1d2330; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: #c9cfdb; font-size: 13px; }
nav { position: sticky; top: 0; z-index: 2; background: #2b3345; padding: 6px 28px; }
nav a { color: #e3e8f2; margin-right: 18px; text-decoration: none; font-size: 13px; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 28px 60px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.note { color: var(--muted); margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; color: #3b4456; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 4px 0 8px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; background: #fafbfc; }
.tile .v { font-size: 20px; font-weight: 600; }
.tile .k { color: var(--muted); font-size: 12px; }
.pass { color: var(--ok); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600; }
.badge.pass { background: var(--ok); color: #fff; }
.badge.fail { background: var(--bad); color: #fff; }
.bar { display: inline-block; height: 10px; border-radius: 2px; background: var(--bar); vertical-align: middle; }
.barcell { width: 220px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
details.topic { border-left: 4px solid var(--line); padding: 2px 0 2px 10px; margin: 6px 0; }
details.topic summary { cursor: pointer; }
details.topic table { margin-left: 18px; }
.map { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; }
.map svg { border: 1px solid var(--line); border-radius: 6px; background: #fcfcfd; }
.legend { list-style: none; padding: 0; margin: 0; max-width: 330px; }
.legend li { margin: 2px 0; }
.legend button { all: unset; cursor: pointer; font-size: 13px; }
.legend button.off { opacity: 0.35; text-decoration: line-through; }
g.topic.off { display: none; }
.users { display: grid; grid-template-columns: repeat(auto-fill, minmax(370px, 1fr)); gap: 12px; }
.user { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.user .head { display: flex; justify-content: space-between; gap: 8px; }
.stack { display: flex; height: 12px; border-radius: 3px; overflow: hidden; margin: 6px 0; }
.user table { width: 100%; margin: 2px 0; }
.user td { border: 0; padding: 1px 6px 1px 0; font-size: 12px; }
.up { color: var(--ok); } .down { color: var(--bad); }
"""

# Legend buttons show and hide a topic's points; ``data-ready`` tells a test the script ran to its end.
_SCRIPT = """
document.querySelectorAll(".legend button").forEach(function (button) {
  button.addEventListener("click", function () {
    var group = document.getElementById("map-topic-" + button.dataset.topic);
    button.classList.toggle("off");
    if (group) { group.classList.toggle("off"); }
  });
});
document.body.dataset.ready = "1";
"""


def render_report(figures: dict) -> str:
    """The whole page for the figures ``figures.gather_report`` gathered."""
    colors = topic_colors([topic["id"] for topic in figures["topics"]]
                          + [point["topic_id"] for point in figures["item_map"]["points"]])
    sections = [
        _gate_section(figures),
        _evaluation_section(figures),
        _tree_section(figures, colors),
        _map_section(figures, colors),
        _users_section(figures, colors),
        _churn_section(figures),
    ]
    title = f"Interests report, ds={figures['ds']}"
    models = ", ".join(f"{name} {version}" for name, version in figures["registered_models"].items()
                       if name != "mlflow_run_id")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        (f'<div class="meta">published night, run <code style="color:#fff">{_e(figures["run_id"])}</code>, '
        f"published at {_e(figures['published_at'])}; encoder {_e(figures['encoder_model_version'])}; "
        f"models: {_e(models) or 'none'}</div></header>"),
        ('<nav><a href="#gate">Gate</a><a href="#evaluation">Evaluation</a><a href="#topics">Topic tree</a>'
        '<a href="#map">Item map</a><a href="#users">Users</a><a href="#churn">Churn</a></nav>'),
        "<main>",
        _summary_tiles(figures),
        *sections,
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ])


def topic_colors(topic_ids: list[str]) -> dict[str, str]:
    """A colour per topic id, stable for a set of ids (sorted): the palette first, then golden-angle hues."""
    colors = {}
    for index, topic in enumerate(sorted(set(topic_ids))):
        if index < len(_PALETTE):
            colors[topic] = _PALETTE[index]
        else:
            red, green, blue = colorsys.hls_to_rgb((index * 0.618034) % 1.0, 0.5, 0.55)
            colors[topic] = f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"
    return colors


# ---------------------------------------------------------------- sections


def _summary_tiles(figures: dict) -> str:
    gate = figures["gate"]
    evaluation = figures["evaluation"]
    best = {m["method"]: m for m in evaluation["methods"]}
    recall = best.get("user", {}).get("recall_at_10")
    tiles = [
        ("gate", "passed" if gate["passed"] else ("failed" if gate["passed"] is False else "unknown")),
        ("topics", f"{len(figures['topics'])}"),
        ("sub-interests", f"{sum(len(t['subinterests']) for t in figures['topics'])}"),
        ("items", f"{figures['item_map']['items']:,}"),
        ("users", f"{figures['row_counts'].get('user_embeddings', 0):,}"),
        ("user-level recall@10", _fmt(recall)),
        ("best level / EASE", _fmt(evaluation["ratio_to_ease"], 2)),
        ("previous published night", figures["previous_ds"] or "none"),
    ]
    cells = "".join(f'<div class="tile"><div class="v">{_e(value)}</div><div class="k">{_e(key)}</div></div>'
                    for key, value in tiles)
    return f'<div class="tiles" id="summary">{cells}</div>'


def _gate_section(figures: dict) -> str:
    gate = figures["gate"]
    if gate["passed"] is None:
        verdict = '<span class="badge fail">no quality checks recorded</span>'
    else:
        verdict = (f'<span class="badge {"pass" if gate["passed"] else "fail"}">'
                   f'{"PASSED" if gate["passed"] else "FAILED"}</span> '
                   f'{len(gate["checks"]) - gate["failed"]} of {len(gate["checks"])} checks passed')
    failed = [check for check in gate["checks"] if not check["passed"]]
    passed = [check for check in gate["checks"] if check["passed"]]
    parts = ['<section id="gate"><h2>Quality gate</h2>', f"<p>{verdict}</p>"]
    if failed:
        parts.append(_checks_table(failed))
    if passed:
        # Passed checks fold away (34 of them on a normal night); failed ones are always in view.
        parts.append(f"<details><summary>{len(passed)} passed checks (click to show)</summary>"
                     f"{_checks_table(passed)}</details>")
    parts.append("<h3>Failed publish attempts</h3>")
    attempts = figures["failed_attempts"]
    if not attempts:
        parts.append('<p class="note">None: every publish attempt in <code>pipeline_runs</code> published.</p>')
    else:
        parts.append('<p class="note">Attempts that did not publish (newest first). A reader never sees their '
                     "rows: the night stays at its earlier publication, or unpublished.</p>")
        lines = []
        for attempt in attempts:
            failed = "; ".join(f"{c['table']} {c['check']}: {c['detail']}" for c in attempt["failed_checks"])
            lines.append(
                f'<tr class="failed-attempt"><td class="nowrap">{_e(attempt["ds"])}</td>'
                f'<td class="fail nowrap">{_e(attempt["status"])}</td><td><code>{_e(attempt["run_id"])}</code></td>'
                f'<td class="nowrap">{_e(attempt["at"])}</td><td>{_e(failed)}</td></tr>'
            )
        parts.append("<table><tr><th>ds</th><th>status</th><th>run</th><th>at</th><th>failed checks</th></tr>"
                     + "".join(lines) + "</table>")
    parts.append("</section>")
    return "\n".join(parts)


def _checks_table(checks: list[dict]) -> str:
    rows = "".join(
        f'<tr><td class="{"pass" if check["passed"] else "fail"}">{"pass" if check["passed"] else "FAIL"}</td>'
        f'<td><code>{_e(check["table"])}</code></td><td>{_e(check["check"])}</td><td>{_e(check["detail"])}</td></tr>'
        for check in sorted(checks, key=lambda c: (c["table"], c["check"]))
    )
    return f"<table><tr><th>result</th><th>table</th><th>check</th><th>detail</th></tr>{rows}</table>"


def _evaluation_section(figures: dict) -> str:
    evaluation = figures["evaluation"]
    parts = ['<section id="evaluation"><h2>Evaluation: next-day retrieval</h2>']
    if not evaluation["methods"]:
        parts.append('<p class="note">No evaluation for this night (no earlier day in the window to hold out, '
                     "or too few users).</p>")
    else:
        users = evaluation["users"]
        parts.append(f'<p class="note">The most recent day of engagements held out, {_fmt(users, 0)} users; '
                     "the user and sub-interest levels against the baselines (EASE, most popular, text only).</p>")
        top = max((m["recall_at_10"] or 0.0) for m in evaluation["methods"]) or 1.0
        header = "".join(f'<th class="num">{_METRIC_NAMES[m]}</th>' for m in METRICS)
        rows = []
        for method in evaluation["methods"]:
            color = _METHOD_STYLES.get(method["method"], ("#4e79a7", ""))[0]
            width = 200 * (method["recall_at_10"] or 0.0) / top
            rows.append(
                f'<tr><td>{_e(method["label"])}</td>'
                + "".join(f'<td class="num">{_fmt(method[m], 4)}</td>' for m in METRICS)
                + f'<td class="barcell"><span class="bar" style="width:{width:.1f}px;background:{color}"></span></td></tr>'
            )
        parts.append(f"<table><tr><th>method</th>{header}<th>recall@10</th></tr>{''.join(rows)}</table>")
    trend = figures["trend"]
    parts.append(f"<h3>recall@10 over the last {len(trend['nights'])} published night(s)</h3>")
    parts.append(trend_chart(trend))
    parts.append("</section>")
    return "\n".join(parts)


def trend_chart(trend: dict, width: int = 820, height: int = 280) -> str:
    """An SVG line chart of each method's recall@10 per published night."""
    nights, series = trend["nights"], trend["series"]
    if not nights or not series:
        return '<p class="note">No evaluation figures in the published nights.</p>'
    left, right, top, bottom = 56, 250, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s["values"] if v is not None]
    high = max(values) * 1.1 if values and max(values) > 0 else 1.0

    def x(index: int) -> float:
        return left + (plot_w / 2 if len(nights) == 1 else plot_w * index / (len(nights) - 1))

    def y(value: float) -> float:
        return top + plot_h * (1 - value / high)

    out = [(f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="recall@10 trend">')]
    for step in range(5):
        value = high * step / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e6ec"/>'
                   f'<text x="{left - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end" '
                   f'fill="#5b6475">{value:.2f}</text>')
    every = max(1, len(nights) // 8)
    for index, night in enumerate(nights):
        if index % every == 0 or index == len(nights) - 1:
            out.append(f'<text x="{x(index):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
                       f'fill="#5b6475">{_e(night)}</text>')
    for number, line in enumerate(series):
        color, dash = _METHOD_STYLES.get(line["method"], (_PALETTE[number % len(_PALETTE)], ""))
        points = [(x(i), y(v)) for i, v in enumerate(line["values"]) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"'
                       + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        for (px, py), value in zip(points, [v for v in line["values"] if v is not None], strict=True):
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}">'
                       f"<title>{_e(line['label'])}: {value:.4f}</title></circle>")
        legend_y = top + 16 + 20 * number
        out.append(f'<line x1="{width - right + 14}" x2="{width - right + 38}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
                   f'stroke="{color}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                   f'<text x="{width - right + 44}" y="{legend_y}" font-size="12" fill="#1d2330">'
                   f"{_e(line['label'])}</text>")
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#9aa3b2"/>')
    out.append("</svg>")
    return "".join(out)


def _tree_section(figures: dict, colors: dict[str, str]) -> str:
    topics = figures["topics"]
    parts = ['<section id="topics"><h2>Topic tree</h2>',
             (f'<p class="note">{len(topics)} topics and '
             f"{sum(len(t['subinterests']) for t in topics)} sub-interests, largest first; a size is a number of "
             "items; the medoid is the member item nearest the centroid.</p>")]
    largest = max((t["size"] for t in topics), default=1) or 1
    for topic in topics:
        color = colors.get(topic["id"], "#999")
        bar = f'<span class="bar" style="width:{240 * topic["size"] / largest:.1f}px;background:{color}"></span>'
        rows = "".join(
            f'<tr><td class="id">{_e(sub["id"])}</td><td>{_e(sub["label"])}</td><td class="num">{sub["size"]:,}</td>'
            f'<td class="barcell"><span class="bar" style="width:{200 * sub["size"] / largest:.1f}px;'
            f'background:{color};opacity:0.7"></span></td><td>{_e(sub["medoid_title"] or sub["medoid_item_id"])}</td></tr>'
            for sub in topic["subinterests"]
        )
        parts.append(
            f'<details class="topic" open style="border-left-color:{color}"><summary>'
            f'<span class="swatch" style="background:{color}"></span><b>{_e(topic["label"])}</b> '
            f'<span class="id">{_e(topic["id"])}</span> &middot; {topic["size"]:,} items '
            f'&middot; {len(topic["subinterests"])} sub-interests {bar}</summary>'
            f'<p class="note">medoid: {_e(topic["medoid_title"] or topic["medoid_item_id"])}</p>'
            f"<table><tr><th>sub-interest</th><th>label</th><th class=\"num\">items</th><th></th>"
            f"<th>medoid item</th></tr>{rows}</table></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _map_section(figures: dict, colors: dict[str, str], size: int = 720) -> str:
    item_map = figures["item_map"]
    labels = {t["id"]: t["label"] for t in figures["topics"]}
    points = item_map["points"]
    explained = item_map["explained"]
    parts = ['<section id="map"><h2>Item map</h2>',
             (f'<p class="note">{item_map["shown"]:,} of {item_map["items"]:,} items (a sample fixed by a hash of the '
             "item id when there are more) on the first two principal components of their retrieval vectors "
             f"({100 * explained[0]:.1f}% and {100 * explained[1]:.1f}% of the variance), coloured by topic. "
             "Points beyond the central 98% on an axis sit on the frame's edge. "
             "Click a topic in the legend to hide or show it.</p>")]
    if not points:
        parts.append('<p class="note">No items.</p></section>')
        return "\n".join(parts)
    pad = 12
    # The frame holds the central 98% of the points on each axis (a few outliers would squeeze the rest
    # into a corner); points beyond it sit on its edge. One scale for both axes keeps distances honest.
    (x_low, x_high), (y_low, y_high) = (_robust_range([p[axis] for p in points]) for axis in ("x", "y"))
    span = max(x_high - x_low, y_high - y_low) or 1.0
    x_low -= (span - (x_high - x_low)) / 2
    y_low -= (span - (y_high - y_low)) / 2
    groups: dict[str, list[str]] = {}
    for point in points:
        cx = pad + (size - 2 * pad) * min(max((point["x"] - x_low) / span, 0.0), 1.0)
        cy = size - pad - (size - 2 * pad) * min(max((point["y"] - y_low) / span, 0.0), 1.0)
        groups.setdefault(point["topic_id"], []).append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3"><title>{_e(point["item_id"])}</title></circle>'
        )
    order = sorted(groups, key=lambda topic: (-len(groups[topic]), topic))
    svg = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
           'role="img" aria-label="item map">')]
    for index, topic in enumerate(order):
        svg.append(f'<g class="topic" id="map-topic-{index}" fill="{colors.get(topic, "#999")}" fill-opacity="0.75">'
                   + "".join(groups[topic]) + "</g>")
    svg.append("</svg>")
    legend = "".join(
        f'<li><button type="button" data-topic="{index}"><span class="swatch" '
        f'style="background:{colors.get(topic, "#999")}"></span>{_e(labels.get(topic, "(not in the tree)"))} '
        f'<span class="id">{_e(topic)}</span> ({len(groups[topic]):,})</button></li>'
        for index, topic in enumerate(order)
    )
    parts.append(f'<div class="map">{"".join(svg)}<ul class="legend">{legend}</ul></div></section>')
    return "\n".join(parts)


def _robust_range(values: list[float]) -> tuple[float, float]:
    """The 1st to 99th percentile of the values, widened by 5% each way."""
    ordered = sorted(values)
    low = ordered[int(0.01 * (len(ordered) - 1))]
    high = ordered[round(0.99 * (len(ordered) - 1))]
    margin = 0.05 * (high - low)
    return low - margin, high + margin


def _users_section(figures: dict, colors: dict[str, str]) -> str:
    users = figures["users"]
    parts = ['<section id="users"><h2>Interests per user</h2>',
             (f'<p class="note">The {len(users)} most active users (most engagements in the window); weights sum to 1 '
             "per level. Ids are pseudonyms.</p>"), '<div class="users">']
    for user in users:
        stack = "".join(
            f'<span style="width:{100 * t["weight"]:.2f}%;background:{colors.get(t["id"], "#999")}" '
            f'title="{_e(t["label"])} {t["weight"]:.2f}"></span>' for t in user["topics"]
        )
        topic_rows = "".join(_weight_row(t["label"], t["id"], t["weight"], colors.get(t["id"], "#999"))
                             for t in user["topics"])
        sub_rows = "".join(_weight_row(s["label"], s["id"], s["weight"], colors.get(s["topic_id"], "#999"))
                           for s in user["subinterests"])
        parts.append(
            f'<div class="user"><div class="head"><span class="id" title="{_e(user["user_id"])}">'
            f'{_e(user["user_id"][:16])}</span><span class="note">{user["n_engagements"]:,} engagements, '
            f'{user["n_items"]:,} items, {user["n_texts"]} texts</span></div>'
            f'<div class="stack">{stack}</div>'
            f"<table><tr><th>topic</th><th></th><th class=\"num\">weight</th></tr>{topic_rows}</table>"
            f"<table><tr><th>sub-interest</th><th></th><th class=\"num\">weight</th></tr>{sub_rows}</table></div>"
        )
    parts.append("</div></section>")
    return "\n".join(parts)


def _weight_row(label: str, node_id: str, weight: float, color: str) -> str:
    return (f'<tr><td>{_e(label)} <span class="id">{_e(node_id)}</span></td>'
            f'<td style="width:110px"><span class="bar" style="width:{100 * weight:.1f}px;background:{color}"></span></td>'
            f'<td class="num">{weight:.2f}</td></tr>')


def _churn_section(figures: dict) -> str:
    churn = figures["churn"]
    parts = ['<section id="churn"><h2>Churn since the previous published night</h2>']
    if churn is None:
        parts.append('<p class="note">No earlier published night to compare with.</p></section>')
        return "\n".join(parts)
    items, users, topics = churn["items"], churn["users"], churn["topics"]
    parts.append(f'<p class="note">ds={_e(figures["ds"])} against ds={_e(churn["previous_ds"])}, the published night '
                 "before it (failed attempts in between are not compared). Topic ids persist from night to night.</p>")
    tiles = [
        ("items whose topic changed", items["topic_changed"], f"of {items['before'] - items['gone']:,} in both"),
        ("items whose sub-interest changed", items["subinterest_changed"], ""),
        ("new items", items["new"], f"{items['before']:,} &rarr; {items['after']:,}"),
        ("gone items", items["gone"], ""),
        ("users whose top topic changed", users["top_topic_changed"], f"of {users['compared']:,} in both"),
        ("new users", users["new"], f"{users['before']:,} &rarr; {users['after']:,}"),
        ("gone users", users["gone"], ""),
        ("new / gone sub-interests", f"{topics['new_subinterests']} / {topics['gone_subinterests']}", ""),
    ]
    parts.append('<div class="tiles">' + "".join(
        f'<div class="tile churn-figure" data-figure="{_e(key)}"><div class="v">{_e(value)}</div>'
        f'<div class="k">{_e(key)}{("<br>" + extra) if extra else ""}</div></div>'
        for key, value, extra in tiles) + "</div>")
    rows = []
    for row in topics["sizes"]:
        change = row["change"]
        kind = "up" if change > 0 else ("down" if change < 0 else "")
        status = ("new" if row["before"] is None else "gone" if row["after"] is None else "")
        rows.append(
            f'<tr><td class="id">{_e(row["id"])}</td><td>{_e(row["label"])}</td>'
            f'<td class="num">{_fmt_int(row["before"])}</td><td class="num">{_fmt_int(row["after"])}</td>'
            f'<td class="num {kind}">{change:+,d}</td><td>{status}</td></tr>'
        )
    parts.append("<h3>Topic sizes</h3><table><tr><th>topic</th><th>label</th><th class=\"num\">before</th>"
                 f"<th class=\"num\">after</th><th class=\"num\">change</th><th></th></tr>{''.join(rows)}</table>")
    if items["examples"]:
        parts.append(f"<h3>Items whose topic changed (first {len(items['examples'])})</h3>"
                     + _moves_table("item", items["examples"], "item_id"))
    if users["examples"]:
        parts.append(f"<h3>Users whose top topic changed (first {len(users['examples'])})</h3>"
                     + _moves_table("user", users["examples"], "user_id"))
    for kind, key in (("New items", "new_examples"), ("Gone items", "gone_examples")):
        if items[key]:
            parts.append(f'<h3>{kind} (first {len(items[key])})</h3><p class="id">'
                         + ", ".join(_e(item) for item in items[key]) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _moves_table(kind: str, moves: list[dict], key: str) -> str:
    rows = "".join(
        f'<tr><td class="id">{_e(move[key])}</td><td>{_e(move["from_label"])} <span class="id">{_e(move["from"])}</span>'
        f'</td><td>&rarr; {_e(move["to_label"])} <span class="id">{_e(move["to"])}</span></td></tr>'
        for move in moves
    )
    return f"<table><tr><th>{_e(kind)}</th><th>before</th><th>now</th></tr>{rows}</table>"


# ---------------------------------------------------------------- formatting


def _e(value: object) -> str:
    """Text from the data, safe in HTML content and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _fmt_int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
