"""Self-contained HTML reports with interactive plots (plotly, its JavaScript embedded once).

Plotly earns its place here: one offline file that opens anywhere without a network (the JS is
inlined), zoomable time series for a day of minutes, and the figure data sits in the page as JSON
(tests read it back). Every figure is built from the report's ``to_dict()``, the same numbers the
JSON file and the terminal show.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

REGIME_COLORS = {"neutral_low_vol": "#4c78a8", "neutral_high_vol": "#72b7b2", "up": "#54a24b", "down": "#e45756",
                 "high_vol_shock": "#b279a2", "unknown": "#9d9d9d"}
_LAYOUT = dict(template=go.layout.Template(), margin=dict(l=60, r=20, t=50, b=40), height=420,
               font=dict(family="system-ui, sans-serif", size=12), plot_bgcolor="#fafafa",
               legend=dict(orientation="h", y=-0.15))

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left} .pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600}
.figure{margin:12px 0} dl{font-size:12px;color:#555} dt{font-weight:600}
"""


def fmt(v: Any, kind: str = "num") -> str:
    """How a number is shown in the terminal and the HTML (one formatter for both)."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if kind == "pct":
        return f"{v * 100:.2f}%"
    if kind == "bps":
        return f"{v:.2f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "x":
        return f"{v:.2f}x"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 100 else f"{v:,.2f}"
    return str(v)


DAY_FIELDS = (("realized_pnl_usdt", "num"), ("fees_usdt", "num"), ("net_pnl_usdt", "num"), ("net_pnl_bps", "bps"),
              ("drawdown_pct", "pct"), ("fills", "int"), ("turnover_x", "x"), ("dominant_regime", "str"),
              ("equity_start_usdt", "num"), ("equity_end_usdt", "num"), ("spread_capture_usdt", "num"),
              ("inventory_carry_usdt", "num"), ("funding_usdt", "num"), ("net_pnl_with_funding_usdt", "num"),
              ("daily_loss_hard_hit", "bool"))
RANGE_FIELDS = (("days_with_data", "int"), ("days_checked", "int"), ("mean_daily_net_pnl_bps", "bps"),
                ("std_daily_net_pnl_bps", "bps"), ("sharpe_annualised", "num"), ("sharpe_spec_252", "num"),
                ("max_drawdown_pct", "pct"), ("max_single_day_drawdown_pct", "pct"), ("win_rate", "pct"),
                ("total_net_pnl_usdt", "num"), ("total_fees_usdt", "num"), ("total_fills", "int"))
TCA_FIELDS = (("fills", "int"), ("notional_quote", "num"), ("mean_implementation_shortfall_bps", "bps"),
              ("mean_market_impact_bps", "bps"), ("mean_markout_bps", "bps"), ("mean_pnl_vs_mid_bps", "bps"),
              ("adverse_rate", "pct"), ("adverse_60s_rate", "pct"), ("worst_regime", "str"),
              ("worst_regime_adverse_60s_rate", "pct"), ("worst_hour", "str"), ("worst_hour_adverse_60s_rate", "pct"))
BUCKET_FIELDS = (("key", "str"), ("fills", "int"), ("notional_quote", "num"), ("mean_implementation_shortfall_bps", "bps"),
                 ("mean_market_impact_bps", "bps"), ("mean_markout_bps", "bps"), ("mean_pnl_vs_mid_bps", "bps"),
                 ("fee_bps", "bps"), ("adverse_rate", "pct"), ("adverse_60s_rate", "pct"))

# How each ROAD-1 criterion's value and threshold are shown.
CRITERION_KINDS = {"days_observed": "int", "mean_daily_net_pnl_bps": "bps", "sharpe": "num",
                   "max_single_day_drawdown": "pct", "daily_loss_hard_days": "int", "spread_capture_dominant": "num"}

# Short column titles for narrow terminals (the JSON keys stay the long names).
SHORT_LABELS = {"notional_quote": "notional", "mean_implementation_shortfall_bps": "shortfall bps",
                "mean_market_impact_bps": "impact 60s bps", "mean_markout_bps": "markout 60s bps",
                "mean_pnl_vs_mid_bps": "vs mid bps", "adverse_rate": "adverse@fill", "adverse_60s_rate": "adverse 60s",
                "spread_capture_usdt": "spread capture", "days_dominant": "days dominant"}


def _e(s: Any) -> str:
    return html.escape(str(s))


def _kv_table(d: dict[str, Any], fields: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th class='l'>{_e(k)}</th><td>{_e(fmt(d.get(k), kind))}</td></tr>" for k, kind in fields)
    return f"<table>{rows}</table>"


def _rows_table(rows: list[dict[str, Any]], fields: Iterable[tuple[str, str]]) -> str:
    fields = list(fields)
    head = "".join(f"<th class='l'>{_e(SHORT_LABELS.get(k, k))}</th>" if kind == "str" else f"<th>{_e(SHORT_LABELS.get(k, k))}</th>"
                   for k, kind in fields)
    body = "".join("<tr>" + "".join(
        f"<td class='l'>{_e(fmt(r.get(k), kind))}</td>" if kind == "str" else f"<td>{_e(fmt(r.get(k), kind))}</td>"
        for k, kind in fields) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fig_html(fig: go.Figure, div_id: str, title: str) -> str:
    # The shared layout first, then what the figure set for itself (height, margins) wins.
    own = fig.layout.to_plotly_json()
    fig.update_layout(title=title, **_LAYOUT)
    fig.update_layout({k: v for k, v in own.items() if k in ("height", "margin")})
    return f"<div class='figure'>{fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)}</div>"


def equity_figure(equity: dict[str, Any]) -> go.Figure:
    """Equity (top) and drawdown from the running peak in % (bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=equity["minutes"], y=equity["equity"], name="equity (quote)", line=dict(color="#4c78a8")), 1, 1)
    fig.add_trace(go.Scatter(x=equity["minutes"], y=[-d * 100 for d in equity["drawdown"]], name="drawdown %",
                             fill="tozeroy", line=dict(color="#e45756")), 2, 1)
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return fig


def inventory_figure(series: list[dict[str, Any]]) -> go.Figure:
    """Net base inventory as % of equity per instance, with its target."""
    fig = go.Figure()
    for s in series:
        fig.add_trace(go.Scatter(x=s["minutes"], y=[v * 100 for v in s["base_pct"]], name=f"{s['instance_id']} base %"))
        fig.add_trace(go.Scatter(x=s["minutes"], y=[v * 100 for v in s["target_base_pct"]], name=f"{s['instance_id']} target %",
                                 line=dict(dash="dot")))
    fig.update_yaxes(title_text="% of equity")
    return fig


def spreads_figure(series: list[dict[str, Any]]) -> go.Figure:
    """Quoted spreads and the edge floor (bps), with the regime in force underneath."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    for s in series:
        i = s["instance_id"]
        fig.add_trace(go.Scatter(x=s["minutes"], y=s["spread_min_bps"], name=f"{i} spread min"), 1, 1)
        fig.add_trace(go.Scatter(x=s["minutes"], y=s["spread_max_bps"], name=f"{i} spread max"), 1, 1)
        fig.add_trace(go.Scatter(x=s["minutes"], y=s["min_edge_bps"], name=f"{i} min edge", line=dict(dash="dot")), 1, 1)
        fig.add_trace(go.Scatter(x=s["minutes"], y=s["regime"], mode="markers", name=f"{i} regime",
                                 marker=dict(size=4, color=[REGIME_COLORS.get(r, "#999") for r in s["regime"]])), 2, 1)
    fig.update_yaxes(title_text="bps of mid", row=1, col=1)
    fig.update_layout(height=480, margin=dict(l=120))  # room for the regime names
    return fig


def tca_figure(breakdowns: dict[str, list[dict[str, Any]]]) -> go.Figure:
    """Mean implementation shortfall, market impact and 60 s markout (bps) by regime, hour, side, spread."""
    dims = ["regime", "hour", "side", "spread"]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[f"by {d}" for d in dims], vertical_spacing=0.16)
    metrics = (("mean_implementation_shortfall_bps", "shortfall", "#f58518"),
               ("mean_market_impact_bps", "impact", "#e45756"), ("mean_markout_bps", "markout 60s", "#4c78a8"))
    for n, d in enumerate(dims):
        rows = breakdowns.get(d, [])
        for m, label, color in metrics:
            fig.add_trace(go.Bar(x=[r["key"] for r in rows], y=[r[m] for r in rows], name=label, marker_color=color,
                                 legendgroup=label, showlegend=n == 0), n // 2 + 1, n % 2 + 1)
    fig.update_layout(barmode="group", height=620)
    return fig


def adverse_figure(by_regime: list[dict[str, Any]]) -> go.Figure:
    """Adverse-selection rates by regime: at the fill (spec) and after 60 s (below the cost floor)."""
    fig = go.Figure()
    keys = [r["key"] for r in by_regime]
    fig.add_trace(go.Bar(x=keys, y=[r["adverse_rate"] for r in by_regime], name="pnl_vs_mid < 0 at fill"))
    fig.add_trace(go.Bar(x=keys, y=[r["adverse_60s_rate"] for r in by_regime], name="markout 60s < -cost floor"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="fraction of fills", tickformat=".0%")
    return fig


def daily_figure(daily: list[dict[str, Any]]) -> go.Figure:
    """Daily net PnL in bps of start-of-day equity."""
    y = [d["net_pnl_bps"] for d in daily]
    fig = go.Figure(go.Bar(x=[d["date"] for d in daily], y=y, name="net bps",
                           marker_color=["#54a24b" if v >= 0 else "#e45756" for v in y]))
    fig.update_xaxes(type="category")  # one bar per UTC day, not a time axis
    return fig


def decomposition_figure(deco: dict[str, Any]) -> go.Figure:
    """Where the PnL came from: spread capture, inventory carry, fees, funding, net."""
    labels = ["spread capture", "inventory carry", "fees", "funding", "net (equity)", "net + funding"]
    values = [deco["spread_capture_usdt"], deco["inventory_carry_usdt"], -deco["fees_usdt"], deco["funding_usdt"],
              deco["net_pnl_usdt"], deco["net_pnl_with_funding_usdt"]]
    return go.Figure(go.Bar(x=labels, y=values, marker_color=["#54a24b" if v >= 0 else "#e45756" for v in values]))


def regimes_figure(regimes: list[dict[str, Any]]) -> go.Figure:
    """Share of minutes per regime."""
    return go.Figure(go.Bar(x=[r["regime"] for r in regimes], y=[r["share"] for r in regimes],
                            marker_color=[REGIME_COLORS.get(r["regime"], "#999") for r in regimes]))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{_CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><h1>{_e(title)}</h1>{body}</body></html>")


def _tca_section(tca: dict[str, Any] | None) -> str:
    if not tca:
        return "<h2>Transaction costs</h2><p>No fills in this period.</p>"
    parts = ["<h2>Transaction costs (TCA)</h2>", _kv_table(tca["headline"], TCA_FIELDS)]
    for d, rows in tca["breakdowns"].items():
        parts.append(f"<h3>by {_e(d)}</h3>" + _rows_table([{**r, d: r["key"]} for r in rows], ((d, "str"),) + BUCKET_FIELDS[1:]))
    parts.append(_fig_html(tca_figure(tca["breakdowns"]), "tca_breakdown", "TCA breakdowns (bps of mid; shortfall and impact positive = cost)"))
    parts.append(_fig_html(adverse_figure(tca["breakdowns"].get("regime", [])), "adverse_by_regime", "Adverse selection by regime"))
    return "".join(parts)


def _definitions(defs: dict[str, str]) -> str:
    return "<h2>Definitions</h2><dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in defs.items()) + "</dl>"


def _who(d: dict[str, Any]) -> str:
    inst = d.get("instance") or f"all instances ({', '.join(d.get('instances', [])) or '-'})"
    return f"<p>{_e(inst)} — markets {_e(', '.join(d.get('markets', [])) or '-')}</p>"


def render_day_html(report: dict[str, Any]) -> str:
    """The day report (``DayReport.to_dict()``) as one self-contained HTML page."""
    s = report["summary"]
    body = [_who(report), "<h2>Summary</h2>", _kv_table(s, DAY_FIELDS),
            "<h3>regime minutes</h3>", _rows_table([{"regime": k, "minutes": v} for k, v in s["regime_counts"].items()],
                                                   (("regime", "str"), ("minutes", "int"))),
            _fig_html(equity_figure(report["equity"]), "equity", "Equity and drawdown"),
            _fig_html(inventory_figure(report["series"]), "inventory", "Inventory (base % of equity)"),
            _fig_html(spreads_figure(report["series"]), "spreads", "Spreads against regime"),
            _tca_section(report.get("tca")), _definitions(report.get("definitions", {}))]
    return _page(f"hbot day report {report['date']}", "".join(body))


def render_range_html(report: dict[str, Any]) -> str:
    """The multi-day report (``RangeReport.to_dict()``) as one self-contained HTML page."""
    s = report["summary"]
    crit = "".join(
        f"<tr><td class='l'>{_e(c['rule'])}</td><td>{_e(fmt(c['value'], CRITERION_KINDS.get(c['name'], 'num')))}</td>"
        f"<td>{_e(fmt(c['threshold'], CRITERION_KINDS.get(c['name'], 'num')))}</td>"
        f"<td class='{'pass' if c['passed'] else 'fail'}'>{'PASS' if c['passed'] else 'FAIL'}</td></tr>" for c in s["criteria"])
    verdict = "<p class='pass'>ROAD-1: PASS</p>" if s["passed"] else "<p class='fail'>ROAD-1: FAIL</p>"
    body = [_who(report), "<h2>ROAD-1 pass criteria</h2>", verdict,
            f"<table><tr><th class='l'>criterion</th><th>value</th><th>threshold</th><th>result</th></tr>{crit}</table>",
            "<h2>Summary</h2>", _kv_table(s, RANGE_FIELDS),
            "<h2>Daily</h2>", _rows_table(s["daily"], (("date", "str"),) + DAY_FIELDS[:8]),
            _fig_html(daily_figure(s["daily"]), "daily_pnl", "Daily net PnL (bps of start-of-day equity)"),
            _fig_html(equity_figure(report["equity"]), "equity", "Equity and drawdown"),
            "<h2>PnL decomposition</h2>", _kv_table(s["decomposition"], [(k, "num") for k in s["decomposition"]]),
            _fig_html(decomposition_figure(s["decomposition"]), "decomposition", "PnL decomposition (quote)"),
            "<h2>Regimes</h2>", _rows_table(s["regimes"], (("regime", "str"), ("minutes", "int"), ("share", "pct"),
                                                          ("days_dominant", "int"), ("fills", "int"),
                                                          ("spread_capture_usdt", "num"), ("adverse_60s_rate", "pct"))),
            _fig_html(regimes_figure(s["regimes"]), "regimes", "Share of minutes per regime"),
            _fig_html(inventory_figure(report["series"]), "inventory", "Inventory (base % of equity)"),
            _fig_html(spreads_figure(report["series"]), "spreads", "Spreads against regime"),
            _tca_section(report.get("tca")), _definitions(report.get("definitions", {}))]
    return _page(f"hbot report {report['start']} .. {report['end']}", "".join(body))


def render_tca_html(tca: dict[str, Any]) -> str:
    """A TCA report (``TcaReport.to_dict()``) as one self-contained HTML page."""
    who = f"<p>{_e(tca.get('instance') or 'all instances')} — {_e(tca['start'])} .. {_e(tca['end'])} UTC</p>"
    return _page(f"hbot TCA {tca['start'][:16]} .. {tca['end'][:16]} UTC", who + _tca_section(tca))
