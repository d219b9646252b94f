"""User macro expansion for arXiv LaTeX: `\\newcommand` / `\\renewcommand` / `\\providecommand`
(with `#1`..`#9` and an optional first argument's default), `\\def` with undelimited parameters,
and `\\DeclareMathOperator`. Definitions are removed, uses are expanded inline, depth-first,
with bounded nesting depth, expansion count and output size, so `\\def\\a{\\a\\a}` ends as a
counted `LatexLimitError` rather than a hang.

RedPajama's `arxiv_cleaner.py` (rp_v1) expands argument-less `\\newcommand` / `\\def` only.
"""

from __future__ import annotations

import dataclasses
import re

from pipeline.filters import RecordError


# --- balanced groups ---------------------------------------------------------------------------
class LatexLimitError(RecordError):
    """A hostile or runaway paper: expansion past the recursion, count, size or scan bound
    (dead-lettered by the filter adapter under its `kind`)."""


class ScanBudget:
    """Characters that group matching may scan for one paper. Each failed match (an unbalanced
    `{`) scans to the end of the text; the budget keeps many of them linear, not quadratic."""

    def __init__(self, chars: int):
        self.left = chars

    def spend(self, chars: int) -> None:
        self.left -= chars
        if self.left < 0:
            raise LatexLimitError("macro_scan_limit", "unbalanced braces: scan budget spent")


def skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\n":
        i += 1
    return i


_GROUP_TOKENS = {"{": re.compile(r"\\.|[{}]", re.S), "[": re.compile(r"\\.|[\[\]]", re.S)}


def read_group(text: str, i: int, open_: str = "{", budget: ScanBudget | None = None) -> tuple[str, int] | None:
    """At `text[i] == open_` (`{` or `[`): (content without the delimiters, index after), or None
    when unbalanced. `\\{` does not count."""
    if i >= len(text) or text[i] != open_:
        return None
    depth = 0
    for m in _GROUP_TOKENS[open_].finditer(text, i):
        token = m.group()
        if token[0] == "\\":
            continue
        depth += 1 if token == open_ else -1
        if depth == 0:
            if budget is not None:
                budget.spend(m.end() - i)
            return text[i + 1:m.start()], m.end()
    if budget is not None:
        budget.spend(len(text) - i)
    return None


def read_argument(text: str, i: int, budget: ScanBudget | None = None) -> tuple[str, int] | None:
    """One undelimited TeX argument at `i` (spaces skipped): a `{group}`, a control word or a char."""
    i = skip_space(text, i)
    if i >= len(text) or text[i] == "}":
        return None
    if text[i] == "{":
        return read_group(text, i, "{", budget)
    if text[i] == "\\":
        m = _CONTROL.match(text, i)
        return m.group(0), m.end()
    return text[i], i + 1


_CONTROL = re.compile(r"\\(?:[A-Za-z@]+|.)", re.S)


# --- macro definitions ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Macro:
    name: str  # without the backslash
    body: str
    n_args: int = 0
    default: str | None = None  # the optional first argument's default (`\newcommand` only)


# Names whose expansion would break the document structure the later steps look for (the
# first-section cut, the bibliography removal) or that LaTeX reserves: never expanded.
PROTECTED = frozenset(
    "part chapter section subsection subsubsection paragraph subparagraph appendix bibliography "
    "bibliographystyle printbibliography begin end input include item label ref cite "
    "documentclass usepackage newcommand renewcommand def".split())

_DEFINITION = re.compile(
    r"\\(newcommand|renewcommand|providecommand|DeclareRobustCommand|DeclareMathOperator"
    r"|def|gdef|edef|xdef)(?![A-Za-z@])(\*?)")


_NAME = re.compile(r"\\([A-Za-z@]+)")
# TeX skips spaces after a control word, so `\def\R {\mathbb{R}}` defines `\R` as well.
_DEF_HEAD = re.compile(r"\s*\\([A-Za-z@]+)\s*((?:#[1-9])*)\{")


def _command_name(text: str, i: int, budget: ScanBudget) -> tuple[str, int] | None:
    """`{\\name}` or `\\name` at `i` -> (name, index after)."""
    i = skip_space(text, i)
    if i < len(text) and text[i] == "{":
        group = read_group(text, i, "{", budget)
        if group is None:
            return None
        inner = group[0].strip()
        m = re.fullmatch(r"\\([A-Za-z@]+)", inner)
        return (m.group(1), group[1]) if m else None
    m = _NAME.match(text, i)
    return (m.group(1), m.end()) if m else None


def _parse_newcommand(text: str, i: int, budget: ScanBudget) -> tuple[Macro, int] | None:
    """After `\\newcommand*`: `{\\name}[n][default]{body}`."""
    named = _command_name(text, i, budget)
    if named is None:
        return None
    name, i = named
    n_args, default = 0, None
    j = skip_space(text, i)
    group = read_group(text, j, "[", budget)
    if group is not None:
        if not re.fullmatch(r"\s*[0-9]\s*", group[0]):  # TeX's digits only (`"²".isdigit()` is True)
            return None
        n_args, i = int(group[0]), group[1]
        j = skip_space(text, i)
        group = read_group(text, j, "[", budget)
        if group is not None:
            default, i = group
    body = read_group(text, skip_space(text, i), "{", budget)
    if body is None:
        return None
    return Macro(name, body[0], n_args, default), body[1]


def _parse_def(text: str, i: int, budget: ScanBudget) -> tuple[Macro, int] | None:
    """After `\\def`: `\\name#1#2{body}` (undelimited parameters only; others are left alone)."""
    m = _DEF_HEAD.match(text, i)
    if m is None:
        return None
    params = m.group(2)
    if params != "".join(f"#{k}" for k in range(1, len(params) // 2 + 1)):
        return None
    body = read_group(text, m.end() - 1, "{", budget)
    if body is None:
        return None
    return Macro(m.group(1), body[0], len(params) // 2), body[1]


def _parse_operator(text: str, i: int, star: str, budget: ScanBudget) -> tuple[Macro, int] | None:
    """After `\\DeclareMathOperator*`: `{\\name}{text}` -> `\\operatorname*{text}`."""
    named = _command_name(text, i, budget)
    if named is None:
        return None
    name, i = named
    body = read_group(text, skip_space(text, i), "{", budget)
    if body is None:
        return None
    return Macro(name, f"\\operatorname{star}{{{body[0]}}}"), body[1]


def extract_macros(text: str, budget: ScanBudget | None = None) -> tuple[str, dict[str, Macro]]:
    """Finds user definitions, removes them from `text`; returns (text, name -> Macro).

    A later definition replaces an earlier one (`\\providecommand` only defines a new name).
    Definitions of `@` internals (package code between `\\makeatletter`/`\\makeatother`) and of
    PROTECTED names are left in the text, unexpanded.
    """
    budget = budget or Limits().scan_budget(text)
    macros: dict[str, Macro] = {}
    out: list[str] = []
    last = 0
    for m in _DEFINITION.finditer(text):
        if m.start() < last:
            continue  # inside a definition already consumed
        kind, star = m.group(1), m.group(2)
        if kind == "DeclareMathOperator":
            parsed = _parse_operator(text, m.end(), star, budget)
        elif kind.endswith("def"):
            parsed = _parse_def(text, m.end(), budget)
        else:
            parsed = _parse_newcommand(text, m.end(), budget)
        if parsed is None:
            continue
        macro, end = parsed
        if "@" in macro.name or "@" in macro.body or macro.name in PROTECTED:
            continue
        if kind != "providecommand" or macro.name not in macros:
            macros[macro.name] = macro
        out.append(text[last:m.start()])
        last = end
    out.append(text[last:])
    return "".join(out), macros


# --- expansion -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Limits:
    # Nesting of user macros inside user macros. Real preambles nest a few levels (a macro for
    # a symbol used by a macro for a formula); 32 is far past that, and deep enough that any
    # self-reference (`\def\a{x\a}`) is caught after 32 steps.
    max_depth: int = 32
    # Expansions per paper: a long paper uses a few thousand; the bound stops a wide, shallow
    # bomb (`\def\b{\c\c\c\c}` chains) in linear time.
    max_expansions: int = 200_000
    # The expanded paper may grow to this many times its size (plus 1 MB): macros shorten the
    # source, they do not multiply it (our bound; arXiv caps a whole submission at 50 MB).
    growth: int = 4
    slack_chars: int = 1_000_000
    # Characters brace matching may scan, per character of the paper: a real paper's groups
    # are scanned about once (a few x its size); unbalanced `{` repeated thousands of times
    # would otherwise make the scan quadratic.
    scan_factor: int = 20

    def scan_budget(self, text: str) -> ScanBudget:
        return ScanBudget(self.scan_factor * len(text) + self.slack_chars)


_SUBST = re.compile(r"##|#([1-9])")


def _substitute(body: str, args: list[str]) -> str:
    if "#" not in body:
        return body

    def repl(m: re.Match) -> str:
        if m.group(0) == "##":
            return "#"
        k = int(m.group(1))
        return args[k - 1] if k <= len(args) else m.group(0)

    return _SUBST.sub(repl, body)


class Expander:
    """Expands `macros` in a text, depth-first, with the bounds of `limits`."""

    def __init__(self, macros: dict[str, Macro], limits: Limits = Limits(), scan: ScanBudget | None = None):
        self.macros = macros
        self.limits = limits
        self.scan = scan
        # Every control word, looked up: an alternation of the names compiled per paper cost
        # seconds for a name a megabyte long (a mutated `\newcommand`), and a name is a word.
        self.pattern = _NAME if macros else None
        self.count = 0
        self.max_chars = 0

    def expand(self, text: str) -> str:
        if self.pattern is None:
            return text
        self.count = 0
        self.max_chars = self.limits.growth * len(text) + self.limits.slack_chars
        if self.scan is None:
            self.scan = self.limits.scan_budget(text)
        return self._expand(text, 0)

    def _args(self, macro: Macro, text: str, i: int) -> tuple[list[str], int] | None:
        args: list[str] = []
        wanted = macro.n_args
        if macro.default is not None and wanted:
            j = skip_space(text, i)
            group = read_group(text, j, "[", self.scan)
            if group is not None:
                args.append(group[0])
                i = group[1]
            else:
                args.append(macro.default)
            wanted -= 1
        for _ in range(wanted):
            arg = read_argument(text, i, self.scan)
            if arg is None:
                return None
            args.append(arg[0])
            i = arg[1]
        return args, i

    def _expand(self, text: str, depth: int) -> str:
        if depth > self.limits.max_depth:
            raise LatexLimitError("macro_recursion", f"user macros nested deeper than {self.limits.max_depth}")
        if "\\" not in text:
            return text  # no control word, nothing to expand
        out: list[str] = []
        pos = 0
        size = 0
        for m in self.pattern.finditer(text):
            if m.start() < pos:
                continue  # consumed as an argument of the previous macro
            macro = self.macros.get(m.group(1))
            if macro is None:
                continue  # not a user macro
            parsed = self._args(macro, text, m.end())
            if parsed is None:
                continue  # used without its arguments: left as written
            args, end = parsed
            self.count += 1
            if self.count > self.limits.max_expansions:
                raise LatexLimitError("macro_expansion_limit", f"over {self.limits.max_expansions} macro expansions")
            replacement = self._expand(_substitute(macro.body, args), depth + 1)
            if macro.n_args == 0 and text.startswith("{}", end):
                end += 2  # `\LLM{}` -> the text, without the empty group
                if re.search(r"\\[A-Za-z]+$", replacement) and end < len(text) and text[end].isalpha():
                    replacement += " "
            out.append(text[pos:m.start()])
            out.append(replacement)
            size += m.start() - pos + len(replacement)
            if size > self.max_chars:
                raise LatexLimitError("macro_size_limit", f"expanded text over {self.max_chars} characters")
            pos = end
        out.append(text[pos:])
        return "".join(out)


def expand_macros(text: str, limits: Limits = Limits()) -> tuple[str, int]:
    """Removes user definitions and expands their uses: (text, number of expansions)."""
    scan = limits.scan_budget(text)
    text, macros = extract_macros(text, scan)
    expander = Expander(macros, limits, scan)
    return expander.expand(text), expander.count
