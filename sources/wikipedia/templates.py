"""The few inline templates whose output is running text, rendered instead of removed.

On the English sample dump `{{convert}}` alone is ~350 inline uses; dropping it leaves "a
distance of  from". Renderings follow the templates' documentation on en.wikipedia
(Template:Convert, Template:Lang, Template:Nihongo ...) in their simplest form: the value and
unit as written, the foreign text without its language label. Anything else is removed.
"""

from __future__ import annotations

import re

NAMED = re.compile(r"^\s*[^\s=|\[\]]+(?:\s[^\s=|\[\]]+)*\s*=")
# Template:Convert range words between two values ("{{convert|5|to|10|km}}").
RANGE_WORDS = frozenset({"-", "–", "to", "and", "or", "by", "x", "×", "+", "to(-)", "&"})
UNITS = {"C": "°C", "F": "°F", "sqmi": "sq mi", "km2": "km²", "m2": "m²", "sqft": "sq ft",
         "cm2": "cm²", "km3": "km³", "m3": "m³", "ft2": "sq ft", "mi2": "sq mi"}
TEXT_PARAM = {  # template name -> which positional parameter is its visible text (1-based; -1: last)
    "lang": 2, "nowrap": 1, "nobr": 1, "small": 1, "smaller": 1, "sc": 1, "smallcaps": 1,
    "nihongo": 1, "transl": -1, "lang-rtl": 2, "sic": 1, "nbsp": 0, "nowrap begin": 0, "vr": 1,
}


def split_params(inner: str) -> list[str]:
    """`name|a|[[x|y]]|k=v` -> ["name", "a", "[[x|y]]", "k=v"] (pipes inside links do not split)."""
    parts, depth, last = [], 0, 0
    for match in re.finditer(r"\[\[|\]\]|\|", inner):
        token = match.group()
        if token == "[[":
            depth += 1
        elif token == "]]":
            depth = max(depth - 1, 0)
        elif depth == 0:
            parts.append(inner[last:match.start()])
            last = match.end()
    parts.append(inner[last:])
    return parts


def render(span: str) -> str:
    """Visible text of one innermost template `{{...}}` (no nested templates), or ""."""
    parts = split_params(span[2:-2])
    name = parts[0].strip().lower().replace("_", " ")
    positional = [p.strip() for p in parts[1:] if not NAMED.match(p)]
    if name in ("convert", "cvt"):
        return _convert(positional)
    if name.startswith("lang-"):
        return positional[0] if positional else ""
    if name == "as of" and positional:
        return "As of " + " ".join(positional[:3])
    index = TEXT_PARAM.get(name)
    if not index or not positional or index > len(positional):
        return ""
    return positional[index - 1] if index > 0 else positional[-1]


def _convert(params: list[str]) -> str:
    if len(params) >= 4 and params[1] in RANGE_WORDS:
        return f"{params[0]} {params[1]} {params[2]} {UNITS.get(params[3], params[3])}".replace(" - ", "–")
    if len(params) >= 2:
        return f"{params[0]} {UNITS.get(params[1], params[1])}"
    return ""
