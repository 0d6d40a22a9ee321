"""``netmon report capacity --format html``: one self-contained page (step: reports).

Inline CSS and inline SVG only: no script, font, image or style sheet is
fetched, so the file can be mailed or opened on a machine with no internet.
It shows the links ranked by days until the threshold, a small trend chart
for each of the top 20 (daily p95 points, the Theil–Sen line carried 60 days
ahead, the threshold as a red line) and the plane-headroom table.
"""

from __future__ import annotations

from html import escape

from netmon.capacity.forecast import fmt_bps
from netmon.capacity.report import CapacityReport, LinkRow, day_date

TOP_CHARTS = 20
W, H = 320, 140
PAD_L, PAD_R, PAD_T, PAD_B = 34, 8, 10, 22
AHEAD_DAYS = 60

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ddd;
text-align:left;white-space:nowrap}td.n{text-align:right}
tr.urgent td{background:#fde2e1}tr.soon td{background:#fff4d6}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #ddd;padding:4px}figcaption{font-size:12px}
.note{color:#555}
"""


def _days(row: LinkRow) -> str:
    if row.urgent:
        return "now"
    return "-" if row.days_until is None else f"{row.days_until:.0f}"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def chart(row: LinkRow, today: int, threshold_pct: float) -> str:
    """A small SVG: daily p95 (dots and line), trend (dashed), threshold (red)."""
    xs = [int(d) for d in row.series[0]]
    ys = [float(v) for v in row.series[1]]
    x0, x1 = min(xs), today + AHEAD_DAYS
    top = max(100.0, max(ys) * 1.05)

    def px(day: float) -> float:
        return PAD_L + (day - x0) / max(1, x1 - x0) * (W - PAD_L - PAD_R)

    def py(v: float) -> float:
        return H - PAD_B - max(0.0, min(v, top)) / top * (H - PAD_T - PAD_B)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" class="trend" '
             f'aria-label="daily p95 of {escape(row.key)}">',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
             f'height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ccc"/>']
    for v in (0, 25, 50, 75, 100):
        if v <= top:
            parts.append(f'<text x="{PAD_L - 4}" y="{py(v) + 4:.1f}" font-size="10" '
                         f'text-anchor="end">{v}</text>')
    parts.append(f'<line class="threshold" x1="{PAD_L}" x2="{W - PAD_R}" '
                 f'y1="{py(threshold_pct):.1f}" y2="{py(threshold_pct):.1f}" stroke="#d00" '
                 f'stroke-width="1.5"/><text x="{W - PAD_R - 2}" y="{py(threshold_pct) - 3:.1f}" '
                 f'font-size="10" fill="#d00" text-anchor="end">{threshold_pct:g}%</text>')
    points = " ".join(f"{px(d):.1f},{py(v):.1f}" for d, v in zip(xs, ys, strict=True))
    parts.append(f'<polyline class="p95" points="{points}" fill="none" stroke="#1f5fbf" '
                 f'stroke-width="1.2"/>')
    if row.trend is not None:
        slope, at_today = row.trend
        y_start = py(at_today + slope * (x0 - today))
        y_end = py(at_today + slope * (x1 - today))
        parts.append(f'<line class="fit" x1="{px(x0):.1f}" y1="{y_start:.1f}" '
                     f'x2="{px(x1):.1f}" y2="{y_end:.1f}" stroke="#444" '
                     f'stroke-dasharray="4 3"/>')
    parts.append(f'<line x1="{px(today):.1f}" x2="{px(today):.1f}" y1="{PAD_T}" '
                 f'y2="{H - PAD_B}" stroke="#999" stroke-dasharray="1 2"/>')
    parts.append(f'<text x="{PAD_L}" y="{H - 6}" font-size="10">{day_date(x0)}</text>'
                 f'<text x="{px(today):.1f}" y="{H - 6}" font-size="10" text-anchor="middle">'
                 f'today</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: CapacityReport) -> str:
    th = f"{report.threshold_pct:g}%"
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f"<title>netmon capacity report {report.generated}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Capacity report {report.generated}</h1>",
           f'<p class="note">Daily p95 (the larger of in and out, nearest rank of the 5-minute '
           f"averages) over {report.window_days} days; threshold {th}; upgrade advice for "
           f"{report.horizon_months} months. Links already over the threshold come first.</p>"]
    for message in report.messages:
        out.append(f'<p class="note">{escape(message)}</p>')
    out.append(f'<h2>Links ranked by days until {th}</h2><table id="ranked"><thead><tr>'
               "<th>#</th><th>link</th><th>tier</th><th>capacity</th><th>p95 now %</th>"
               f"<th>growth pp/month</th><th>days until {th}</th><th>date</th>"
               "<th>upgrade to</th><th>note</th></tr></thead><tbody>")
    for n, r in enumerate(report.links, 1):
        cls = "urgent" if r.urgent else ("soon" if r.days_until is not None
                                         and r.days_until < 365 else "")
        upgrade = fmt_bps(r.upgrade_to_bps) if r.upgrade_to_bps else (
            "-" if not r.advice or r.advice.startswith("no upgrade") else r.advice)
        out.append(
            f'<tr class="{cls}"><td class="n">{n}</td><td>{escape(r.key)}</td>'
            f"<td>{escape(r.tier or '-')}</td>"
            f"<td>{fmt_bps(r.capacity_bps) if r.capacity_bps else '-'}</td>"
            f'<td class="n">{_num(r.today_pct)}</td>'
            f'<td class="n">{_num(r.growth_pp_per_month, "+.2f")}</td>'
            f'<td class="n">{_days(r)}</td><td>{r.projected or "-"}</td>'
            f"<td>{escape(upgrade)}</td>"
            f"<td>{'URGENT ' if r.urgent else ''}{escape(r.note)}</td></tr>")
    out.append("</tbody></table>")
    charted = [r for r in report.links if len(r.series[0])][:TOP_CHARTS]
    out.append(f'<h2>Trend of the top {len(charted)} links</h2><div class="charts" id="charts">')
    for r in charted:
        out.append(f"<figure>{chart(r, report.today, r.threshold_pct)}<figcaption>"
                   f"{escape(r.key)}: {_num(r.today_pct)}% now, "
                   f"{_num(r.growth_pp_per_month, '+.2f')} pp/month</figcaption></figure>")
    out.append("</div>")
    out.append(f"<h2>Plane failover headroom</h2><p class=\"note\">Combined p95 of a site's "
               f"plane A and B links as a share of the smaller plane: what one plane carries "
               f"if the other fails. Over {th} is flagged.</p>")
    if report.planes:
        out.append('<table id="planes"><thead><tr><th>site</th><th>tier</th>'
                   "<th>smaller plane</th><th>combined p95 %</th><th>growth pp/month</th>"
                   f"<th>days until {th}</th><th>date</th><th>note</th></tr></thead><tbody>")
        for p in report.planes:
            days = "now" if p.over else ("-" if p.days_until is None else f"{p.days_until:.0f}")
            out.append(
                f'<tr class="{"urgent" if p.over else ""}"><td>{escape(p.site)}</td>'
                f"<td>{escape(p.tier or '-')}</td><td>{fmt_bps(p.plane_capacity_bps)}</td>"
                f'<td class="n">{_num(p.today_pct)}</td>'
                f'<td class="n">{_num(p.growth_pp_per_month, "+.2f")}</td>'
                f'<td class="n">{days}</td><td>{p.projected or "-"}</td>'
                f"<td>{'OVER ' if p.over else ''}{escape(p.note)}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p class="note" id="planes">No site has both plane A and plane B links '
                   "with complete days in the window.</p>")
    out.append("</body></html>\n")
    return "\n".join(out)
