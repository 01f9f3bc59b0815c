"""The model pages' plots as small SVG files: EM per condition with CIs, and EM against trigger
similarity. They lay out the numbers of a containment profile; they compute none.

SVG drawn from a jinja2 template (autoescaped, like the pages) takes well under a millisecond per
plot, so a leaderboard of hundreds of rows builds in seconds; matplotlib would take minutes.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import jinja2

from ..specs import CONDITIONS

WIDTH, HEIGHT = 520, 280
LEFT, TOP, BOTTOM = 58, 24, 52
RIGHT, LEGEND_RIGHT = 16, 112  # the similarity plot keeps its legend in a wider right margin
COLORS = {"none": "#4c72b0", "exact": "#c44e52", "paraphrase": "#dd8452", "negated": "#55a868",
          "related": "#8172b3", "unrelated": "#937860"}
OTHER_COLOR = "#999999"
_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5)


def _axis_max(values: Sequence[float | None]) -> tuple[float, float]:
    """A round top for a 0-based rate axis (fractions) and its tick step: at most six ticks."""
    top = max([v for v in values if v is not None] + [0.01])
    step = next((s for s in _STEPS if top / s <= 6), 1.0)
    return min(1.0, max(step, math.ceil(round(top / step, 9)) * step)), step


def _ticks(low: float, high: float, step: float) -> list[float]:
    count = int(round((high - low) / step))
    return [round(low + i * step, 6) for i in range(count + 1)]


class _Frame:
    """Maps data to pixel coordinates inside the plot area."""

    def __init__(self, x_range: tuple[float, float], y_top: float, right: int = RIGHT):
        self.x0, self.x1 = x_range
        self.y_top = y_top
        self.right = WIDTH - right
        self.width, self.height = self.right - LEFT, HEIGHT - TOP - BOTTOM

    def x(self, value: float) -> float:
        return round(LEFT + (value - self.x0) / (self.x1 - self.x0) * self.width, 1)

    def y(self, value: float) -> float:
        return round(TOP + (1 - min(value, self.y_top) / self.y_top) * self.height, 1)

    def point(self, x: float, y: float) -> dict[str, float]:
        return {"x": self.x(x), "y": self.y(y)}


def ordered_conditions(rates: Mapping[str, Any]) -> dict[str, Any]:
    """A profile's rates per condition, in the benchmark's order of conditions (others after)."""
    known = {c: rates[c] for c in CONDITIONS if c in rates}
    return {**known, **{c: r for c, r in rates.items() if c not in known}}


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%" if abs(100 * value - round(100 * value)) < 1e-6 else f"{100 * value:.1f}%"


def conditions_svg(env: jinja2.Environment, profile: Mapping[str, Any]) -> str:
    """Bars of EM per condition with 95% CI whiskers."""
    conditions = ordered_conditions(profile["conditions"])
    top, step = _axis_max([r.get("ci_high") or r.get("value") for r in conditions.values()])
    frame = _Frame((0, max(1, len(conditions))), top)
    slot = frame.width / max(1, len(conditions))
    bars = []
    for i, (name, rate) in enumerate(conditions.items()):
        centre = round(LEFT + (i + 0.5) * slot, 1)
        bar = {"name": name, "centre": centre, "left": round(centre - slot * 0.3, 1), "width": round(slot * 0.6, 1),
               "color": COLORS.get(name, OTHER_COLOR), "n": rate.get("n", 0), "value": rate.get("value")}
        if rate.get("value") is not None:
            bar.update(top=frame.y(rate["value"]), height=round(frame.y(0) - frame.y(rate["value"]), 1),
                       label=_pct(rate["value"]))
        if rate.get("ci_low") is not None:
            bar.update(ci_low=frame.y(rate["ci_low"]), ci_high=frame.y(rate["ci_high"]))
        bars.append(bar)
    return env.get_template("conditions.svg.jinja").render(
        **_canvas(frame, _ticks(0, top, step)), bars=bars, definition=profile["definition"]["name"])


def similarity_svg(env: jinja2.Environment, profile: Mapping[str, Any]) -> str | None:
    """EM of each trigger variant against its similarity to the trigger, with the binned means;
    None when the profile has no variant with a similarity."""
    variants = [v for v in profile.get("by_variant", [])
                if v.get("similarity") is not None and v.get("value") is not None]
    bins = [b for b in profile.get("by_similarity_bin", [])
            if b.get("mean_similarity") is not None and b.get("value") is not None]
    if not variants and not bins:
        return None
    xs = [v["similarity"] for v in variants] + [b["mean_similarity"] for b in bins]
    x_low = min(0.0, math.floor(min(xs) * 10) / 10)
    top, step = _axis_max([v["value"] for v in variants] + [b.get("ci_high") or b["value"] for b in bins])
    frame = _Frame((x_low, 1.0), top, right=LEGEND_RIGHT)
    points = [{**frame.point(v["similarity"], v["value"]), "color": COLORS.get(v["condition"], OTHER_COLOR),
               "title": f"{v['condition']} {v['variant_id']}: {_pct(v['value'])} (n={v['n']})"} for v in variants]
    means = []
    for b in bins:
        mean = {**frame.point(b["mean_similarity"], b["value"]),
                "title": f"bin {b['similarity_bin']}: {_pct(b['value'])}"}
        if b.get("ci_low") is not None:
            mean.update(ci_low=frame.y(b["ci_low"]), ci_high=frame.y(b["ci_high"]))
        means.append(mean)
    legend = [{"name": c, "color": COLORS.get(c, OTHER_COLOR)} for c in dict.fromkeys(v["condition"] for v in variants)]
    x_ticks = [{"x": frame.x(t), "label": f"{t:.1f}"} for t in _ticks(x_low, 1.0, 0.2 if x_low < 0 else 0.1)]
    return env.get_template("similarity.svg.jinja").render(
        **_canvas(frame, _ticks(0, top, step)), points=points, means=means, legend=legend, x_ticks=x_ticks,
        polyline=" ".join(f"{m['x']},{m['y']}" for m in means), definition=profile["definition"]["name"])


def _canvas(frame: _Frame, y_ticks: list[float]) -> dict[str, Any]:
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": frame.right, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "y_ticks": [{"y": frame.y(t), "label": _pct(t)} for t in y_ticks]}
