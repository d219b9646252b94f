"""The report's page for `scripts/report.py`: `Report` gathers the sections and embeds each figure
as a PNG (also written beside the page), `PAGE` is the self-contained HTML around them, and
`html_table` / `missing_note` are the bits of HTML the sections share."""

from __future__ import annotations

import base64
import html
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class Report:
    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.sections: list[str] = []
        os.makedirs(out_dir, exist_ok=True)

    def figure(self, fig, name: str) -> str:
        path = os.path.join(self.out_dir, f"{name}.png")
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        return f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'

    def section(self, key: str, title: str, body: str) -> None:
        self.sections.append(f'<section id="{key}"><h2>{html.escape(title)}</h2>\n{body}\n</section>')

    def write(self) -> str:
        page = PAGE.format(body="\n".join(self.sections))
        path = os.path.join(self.out_dir, "index.html")
        with open(path + ".tmp", "w") as f:
            f.write(page)
        os.replace(path + ".tmp", path)
        return path


def html_table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def missing_note(what: str) -> str:
    return f'<p class="missing">Not available yet: {html.escape(what)}.</p>'


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LLaMA corpus report</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }} .missing {{ color: #888; font-style: italic; }}
.warning {{ color: #b00; border: 2px solid #b00; padding: 0.5em; }}
</style></head>
<body>
<h1>LLaMA corpus and training report</h1>
{body}
<script>
window.addEventListener("load", function () {{
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++;
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-broken-images", broken);
}});
</script>
</body></html>
"""
