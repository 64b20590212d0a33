"""A small front view of the knee for the knee check's result: where the runner said it hurts, drawn over
the thigh, kneecap, tendon and shin (the six knee places of `pain_location`). Our own drawing, every text
escaped."""

from __future__ import annotations

from html import escape

# pain_location -> the shapes that light up (a back-of-knee pain is outlined: the view is from the front)
PLACES: dict[str, tuple[str, ...]] = {
    "anterior_knee": ("kneecap",),
    "patellar_tendon": ("tendon",),
    "lateral_knee": ("outer",),
    "medial_knee": ("inner",),
    "posterior_knee": ("back",),
    "diffuse_knee": ("kneecap", "tendon", "outer", "inner"),
}
SHAPES: dict[str, str] = {
    "outer": '<rect class="{css}" x="126" y="92" width="18" height="70" rx="6"/>',
    "inner": '<rect class="{css}" x="56" y="92" width="18" height="70" rx="6"/>',
    "kneecap": '<ellipse class="{css}" cx="100" cy="112" rx="22" ry="26"/>',
    "tendon": '<rect class="{css}" x="90" y="140" width="20" height="36" rx="6"/>',
    "back": '<rect class="{css} back" x="60" y="86" width="80" height="96" rx="18"/>',
}


def knee_map_svg(location: str | None, label: str) -> str | None:
    """The knee with `location` highlighted, or None when the answer is not a knee place."""
    lit = PLACES.get(location or "")
    if lit is None:
        return None
    title = f"Where it hurts: {label}"
    out = [
        f'<svg class="bodymap kneemap" viewBox="0 0 200 260" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<rect class="silhouette" x="62" y="4" width="76" height="96" rx="14"/>',  # thigh
        '<rect class="silhouette" x="66" y="150" width="68" height="106" rx="12"/>',  # shin
        '<rect class="silhouette" x="56" y="84" width="88" height="84" rx="22"/>',  # knee
        '<text x="6" y="128">inner side</text>',
        '<text x="194" y="128" text-anchor="end">outer side</text>',
    ]
    for name, shape in SHAPES.items():
        if name == "back" and name not in lit:
            continue
        out.append(shape.format(css="region selected" if name in lit else "region"))
    if "back" in lit:
        out.append('<text x="100" y="250" text-anchor="middle">(behind the knee)</text>')
    out.append("</svg>")
    return "".join(out)
