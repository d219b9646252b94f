"""Wikitext -> plain text with mwparserfromhell (paper §2: "remove hyperlinks, comments and other
formatting boilerplate").

Kept: the visible text of wiki links, section headings (one line each, dropped when the section
ends up empty), list items (one line each), bold/italic contents. Removed: external links and
bare URLs, templates and parser functions (infoboxes, navboxes, citations, `{{#if:}}`; a few
inline ones such as `{{convert}}` and `{{lang}}` are rendered, sources/wikipedia/templates.py),
`<ref>`, comments, tables, math, galleries, `File:`/`Image:`/`Category:`/`Media:` links in each
language's localised names, interlanguage links, magic words (`__NOTOC__`).

Whatever goes wholesale is cut first by linear token scans (`prestrip`); mwparserfromhell then
parses only links, headings, lists and bold/italic. This is ~3x faster than parsing everything,
and keeps hostile pages linear: the parser backtracks quadratically on thousands of unclosed
tags, templates, links or tables (an unclosed `[[` or `{|` reaches it as an entity that renders
as the same characters). A page whose templates or links do not balance keeps its brackets and
is dropped by the residue check (`has_residue`).

The namespace names and redirect / disambiguation words are those of MediaWiki's
`languages/messages/Messages<Lang>.php` ($namespaceNames, $namespaceAliases, $magicWords
'redirect') and each wiki's MediaWiki:Disambiguationspage list, for the paper's 20 languages.
"""

from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell import nodes

from sources.wikipedia import templates

# The paper's 20 Wikipedia languages (§2, "Wikipedia").
LANGUAGES = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu",
             "it", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "uk")

# Localised names and aliases of namespaces -2 (Media), 6 (File) and 14 (Category), from
# MediaWiki's Messages<Lang>.php. The English canonical names work on every wiki.
CANONICAL = ("Media", "File", "Image", "Category")
NAMESPACES = {
    "bg": ("Медия", "Файл", "Картинка", "Категория"),
    "ca": ("Multimèdia", "Fitxer", "Imatge", "Categoria"),
    "cs": ("Média", "Soubor", "Obrázek", "Kategorie"),
    "da": ("Medie", "Fil", "Billede", "Kategori"),
    "de": ("Medium", "Datei", "Bild", "Kategorie"),
    "en": (),
    "es": ("Medio", "Archivo", "Imagen", "Categoría"),
    "fr": ("Média", "Fichier", "Catégorie"),
    "hr": ("Mediji", "Datoteka", "Slika", "Kategorija"),
    "hu": ("Média", "Fájl", "Kép", "Kategória"),
    "it": ("Immagine", "Categoria"),
    "nl": ("Bestand", "Afbeelding", "Categorie"),
    "pl": ("Plik", "Grafika", "Kategoria"),
    "pt": ("Multimédia", "Ficheiro", "Arquivo", "Imagem", "Categoria"),
    "ro": ("Fișier", "Fişier", "Imagine", "Categorie"),
    "ru": ("Медиа", "Файл", "Изображение", "Категория"),
    "sl": ("Datoteka", "Slika", "Kategorija"),
    "sr": ("Медиј", "Датотека", "Слика", "Категорија", "Medij", "Datoteka", "Slika", "Kategorija"),
    "sv": ("Fil", "Bild", "Kategori"),
    "uk": ("Медіа", "Файл", "Зображення", "Категорія"),
}

# The 'redirect' magic word of each language (Messages<Lang>.php); a dump marks redirects with
# <redirect/> too, this catches old dumps and hand-made ones.
REDIRECT_WORDS = (
    "REDIRECT", "ПРЕНАСОЧВАНЕ", "REDIRECCIÓ", "PŘESMĚRUJ", "VIDERESTIL", "WEITERLEITUNG",
    "REDIRECCIÓN", "REDIRECTION", "PREUSMJERI", "ÁTIRÁNYÍTÁS", "RINVIA", "DOORVERWIJZING",
    "PATRZ", "PRZEKIERUJ", "REDIRECIONAMENTO", "REDIRECTEAZA", "REDIRECȚIONARE",
    "ПЕРЕНАПРАВЛЕНИЕ", "PREUSMERITEV", "ПРЕУСМЕРИ", "OMDIRIGERING", "ПЕРЕНАПРАВЛЕННЯ",
)
REDIRECT_RE = re.compile(r"\s*#\s*(?:%s)\s*:?\s*\[\[" % "|".join(map(re.escape, REDIRECT_WORDS)), re.IGNORECASE)

# Disambiguation templates (each wiki's MediaWiki:Disambiguationspage / Disambiguator extension)
# and title suffixes; `__DISAMBIG__` is the magic word the Disambiguator extension adds.
DISAMBIG_TEMPLATES = (
    "disambiguation", "disambig", "dab", "disamb", "hndis", "geodis", "surname", "given name",
    "пояснение", "desambiguació", "rozcestník", "flertydig", "begriffsklärung", "desambiguación",
    "homonymie", "razdvojba", "egyért", "disambigua", "dp", "dpintro", "ujednoznacznienie",
    "desambiguação", "dezambiguizare", "неоднозначность", "многозначность", "razločitev",
    "вишезначна одредница", "förgrening", "gren", "неоднозначність",
)
DISAMBIG_RE = re.compile(
    r"\{\{\s*(?:%s)\s*[|}]|__DISAMBIG__" % "|".join(map(re.escape, DISAMBIG_TEMPLATES)), re.IGNORECASE)
DISAMBIG_TITLE_RE = re.compile(
    r"\((?:disambiguation|Begriffsklärung|значения|значення|homonymie|desambiguación|disambigua)\)$",
    re.IGNORECASE)

# Tags whose contents are not running text.
DROP_TAGS = frozenset({
    "ref", "references", "gallery", "math", "chem", "ce", "timeline", "imagemap", "score", "graph",
    "mapframe", "maplink", "syntaxhighlight", "source", "templatedata", "templatestyles", "hiero",
    "inputbox", "categorytree", "indicator", "noinclude", "table", "references", "section", "pre",
})
LINE_TAGS = frozenset({"br", "p", "li", "div", "tr"})
HEADING = "\x00H"  # marks a heading line until empty sections are dropped

COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# Extension tags whose contents are not running text; they do not nest, so the first closing
# tag of the same name ends one. Matched token by token (linear even when many are unclosed).
BLOCK_TAGS = ("ref|math|chem|ce|timeline|score|graph|syntaxhighlight|source|pre|gallery|imagemap|templatedata|"
              "hiero|mapframe|maplink|inputbox|categorytree|table|references|templatestyles")
# A closing tag takes no attributes (MediaWiki's preprocessor: `</ref\s*>`; "</ref name=x>" is text).
BLOCK_TAG_RE = re.compile(r"</(%s)\s*>|<(%s)\b([^<>]{0,1000}?)>" % (BLOCK_TAGS, BLOCK_TAGS), re.IGNORECASE)
# Every other HTML tag is unwrapped here (a line break for block ones), and a "<" left over is
# escaped: mwparserfromhell backtracks quadratically on thousands of unclosed tags.
HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w:-]{0,30})\b[^<>]{0,1000}?/?>")
BLOCK_HTML = frozenset({"br", "p", "div", "hr", "li", "dd", "dt", "ul", "ol", "dl", "tr", "h1", "h2", "h3",
                        "h4", "h5", "h6", "blockquote", "poem", "center"})
EXTERNAL_LINK_RE = re.compile(r"\[(?:(?:https?|ftp|mailto|news|irc):|//)[^\s\]]*[^\]\n]{0,500}\]", re.IGNORECASE)
EXTERNAL_START_RE = re.compile(r"\[(?=(?:(?:https?|ftp|mailto|news|irc):|//))", re.IGNORECASE)
TEMPLATE_TOKEN_RE = re.compile(r"\{\{|\}\}")  # "{{{1}}}" (a parameter) leaves a harmless "}"
TABLE_TOKEN_RE = re.compile(r"^[ \t]*(?:\{\||\|\})", re.MULTILINE)
LINK_TOKEN_RE = re.compile(r"\[\[|\]\]")
INNER_LINK_RE = re.compile(r"\[\[([^\[\]]*)\]\]")
MAGIC_WORD_RE = re.compile(r"__[^\W_]+(?:_[^\W_]+)*__")
URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s\[\]{}|<>\"]+|\bwww\.[^\s\[\]{}|<>\"]+\.[^\s\[\]{}|<>\"]+", re.IGNORECASE)
LEFTOVER_TAG_RE = re.compile(
    r"</?(?:ref|references|br|span|div|small|big|sup|sub|center|font|nowiki|onlyinclude|includeonly|"
    r"noinclude|p|s|u|b|i|em|strong|code|tt|blockquote|poem|abbr|cite|del|ins|var)\b[^<>]{0,200}?/?>",
    re.IGNORECASE)
EMPTY_PARENS_RE = re.compile(r"\(\s*[,;:]?\s*\)|\[\s*\]")
PAREN_HEAD_RE = re.compile(r"\(\s*[,;:]\s*")
SPACES_RE = re.compile(r"[ \t\u00a0]{2,}")
BLANK_LINES_RE = re.compile(r"\n(?:[^\S\n]*\n){2,}")  # two or more empty lines: the output keeps one
SPACE_BEFORE_PUNCT_RE = re.compile(r"[ \t]+([,.])(?=\s|$)", re.MULTILINE)
INTERLANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,8})*$")
# What must never survive into a clean document (issue 5 "done when").
RESIDUE = ("[[", "]]", "{{", "}}", "<ref", "<!--", "http://", "https://")


def dropped_prefixes(language: str, extra: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """Lower-cased namespace prefixes whose links are removed on a wiki of `language`."""
    names = set(CANONICAL) | set(NAMESPACES.get(language, ())) | set(extra)
    return frozenset(n.strip().replace("_", " ").lower() for n in names if n and n.strip())


def is_redirect(text: str) -> bool:
    return bool(REDIRECT_RE.match(text[:200]))


def is_disambiguation(title: str, text: str) -> bool:
    return bool(DISAMBIG_TITLE_RE.search(title) or DISAMBIG_RE.search(text))


def to_text(wikitext: str, drop_prefixes: frozenset[str]) -> str:
    """Plain text of one article's wikitext. What is removed wholesale (comments, refs, math,
    templates, tables) is cut out by a linear scan first: it is most of an article's markup, and
    building mwparserfromhell's tree for it would cost most of the time."""
    text = prestrip(wikitext)
    if "{{" in text or "}}" in text:  # an unbalanced template: the page is dropped for it, and
        return text  # mwparserfromhell is quadratic on unclosed ones ("{{a|b=" x 10,000: minutes)
    text = _escape_unclosed(text, TABLE_TOKEN_RE, "{|", "{&#124;")
    text = _escape_unclosed(text, LINK_TOKEN_RE, "[[", "&#91;&#91;")
    out: list[str] = []
    _render(mwparserfromhell.parse(text), drop_prefixes, out)
    text = _tidy("".join(out))
    if has_residue(text):  # markup the parser left as text (e.g. a caption spanning paragraphs)
        text = _tidy(_links_fallback(text, drop_prefixes))
    return text


def prestrip(text: str) -> str:
    """Comments (an unclosed one runs to the end, as in MediaWiki), refs and other non-text tags,
    HTML tags (unwrapped), external links and URLs, then balanced templates and tables."""
    text = COMMENT_RE.sub("", text)
    text = _cut_tags(text)
    text = HTML_TAG_RE.sub(lambda m: "\n" if m.group(2).lower() in BLOCK_HTML else "", text)
    text = text.replace("<", "&lt;")
    text = EXTERNAL_LINK_RE.sub("", text)
    text = URL_RE.sub("", text)
    text = EXTERNAL_START_RE.sub("", text)  # "[" of an unclosed external link
    text = _cut_balanced(text, TEMPLATE_TOKEN_RE, "{")
    return _cut_balanced(text, TABLE_TOKEN_RE, "{|")


def _cut_tags(text: str) -> str:
    """Removes `<ref>...</ref>`, `<math>...</math>`...; self-closing ones too; an unclosed one is
    left as text."""
    parts: list[str] = []
    kept_from, open_name, start = 0, "", 0
    for match in BLOCK_TAG_RE.finditer(text):
        closing, name = match.group(1), (match.group(1) or match.group(2)).lower()
        if open_name:
            if closing and name == open_name:
                parts.append(text[kept_from:start])
                kept_from, open_name = match.end(), ""
        elif not closing and match.group(3).endswith("/"):
            parts.append(text[kept_from:match.start()])
            kept_from = match.end()
        elif not closing:
            open_name, start = name, match.start()
    parts.append(text[kept_from:])
    return "".join(parts)


def _cut_balanced(text: str, token_re: re.Pattern, opener: str) -> str:
    """Removes every outermost balanced span of `token_re` openers/closers; an unmatched closer
    or an unclosed opener is left as text (the residue check then sees it)."""
    parts: list[str] = []
    depth = 0
    kept_from = start = 0
    for match in token_re.finditer(text):
        if match.group().lstrip().startswith(opener):
            if depth == 0:
                start = match.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                parts.append(text[kept_from:start])
                span = text[start:match.end()]
                if opener == "{" and span.count("{{") == 1:
                    parts.append(templates.render(span))
                kept_from = match.end()
    parts.append(text[kept_from:])
    return "".join(parts)


def _escape_unclosed(text: str, token_re: re.Pattern, opener: str, entity: str) -> str:
    """Each `opener` that no closer matches becomes `entity` (the same characters once rendered,
    so the text is what it was): mwparserfromhell backtracks quadratically on thousands of
    unclosed links or tables ("[[a|" x 20,000: 20 s; "{|" lines x 20,000: 30 s)."""
    unclosed: list[re.Match] = []
    for match in token_re.finditer(text):
        if match.group().lstrip().startswith(opener):
            unclosed.append(match)
        elif unclosed:
            unclosed.pop()
    parts, kept_from = [], 0
    for match in unclosed:
        parts += [text[kept_from:match.start()], match.group().replace(opener, entity)]
        kept_from = match.end()
    parts.append(text[kept_from:])
    return "".join(parts)


def _links_fallback(text: str, drop: frozenset[str]) -> str:
    """Innermost `[[...]]` first: visible text kept, File/Category/interlanguage links removed."""
    def replace(match: re.Match) -> str:
        target, _, label = match.group(1).partition("|")
        prefix, sep, _ = target.lstrip(":").partition(":")
        prefix = prefix.strip().replace("_", " ").lower()
        if sep and not target.startswith(":") and (prefix in drop or INTERLANGUAGE_RE.match(prefix)):
            return ""
        return label.rsplit("|", 1)[-1] if label else target.lstrip(":")

    for _ in range(8):  # nesting depth of captions holding links; real pages need 2
        text, count = INNER_LINK_RE.subn(replace, text)
        if not count:
            break
    return text


def has_residue(text: str) -> bool:
    return any(marker in text for marker in RESIDUE)


def _render(code, drop: frozenset[str], out: list[str]) -> None:
    for node in code.nodes:
        kind = type(node)
        if kind is nodes.Text:
            out.append(node.value)
        elif kind is nodes.Wikilink:
            _render_link(node, drop, out)
        elif kind is nodes.Tag:
            _render_tag(node, drop, out)
        elif kind is nodes.Heading:
            title: list[str] = []
            _render(node.title, drop, title)
            out.append(f"\n{HEADING}{node.level}{''.join(title).strip()}\n")
        elif kind is nodes.HTMLEntity:
            out.append(node.normalize())
        # Template, Argument, Comment, ExternalLink (bracketed or bare): removed.


def _render_link(node, drop: frozenset[str], out: list[str]) -> None:
    title = str(node.title).strip()
    if not title.startswith(":"):  # [[:Category:X]] is a visible link, [[Category:X]] is not
        prefix, sep, _ = title.partition(":")
        prefix = prefix.strip().replace("_", " ").lower()
        if sep and (prefix in drop or INTERLANGUAGE_RE.match(prefix)):
            return
    if node.text is not None:
        _render(node.text, drop, out)
    else:
        out.append(title.lstrip(":").split("#", 1)[0] or title.lstrip(":#"))


def _render_tag(node, drop: frozenset[str], out: list[str]) -> None:
    tag = str(node.tag).strip().lower()
    if tag in DROP_TAGS or node.wiki_markup == "{|":
        return
    if tag in ("br", "hr"):
        out.append("\n")
        return
    if node.contents is not None and not node.self_closing:
        if tag in LINE_TAGS:
            out.append("\n")
        _render(node.contents, drop, out)
        if tag in LINE_TAGS:
            out.append("\n")


def _tidy(text: str) -> str:
    text = MAGIC_WORD_RE.sub("", text)
    text = URL_RE.sub("", text)
    text = LEFTOVER_TAG_RE.sub("", text)
    text = text.replace("'''", "").replace("''", "")
    text = EMPTY_PARENS_RE.sub("", text)
    text = PAREN_HEAD_RE.sub("(", text)
    text = SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)  # "ASD <ref>..</ref>, a" -> "ASD, a"
    text = SPACES_RE.sub(" ", text)
    text = BLANK_LINES_RE.sub("\n\n", text)  # a million empty lines cost a second line by line
    return _drop_empty_sections([line.strip() for line in text.split("\n")])


def _drop_empty_sections(lines: list[str]) -> str:
    """Headings become plain lines; a heading whose section holds no text (up to the next
    heading of the same or a higher level) is dropped. One backward pass."""
    keep = [True] * len(lines)
    seen_text, min_level_since_text = False, 99
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line.startswith(HEADING):
            level, title = _heading(line)
            keep[i] = bool(title) and seen_text and min_level_since_text > level
            min_level_since_text = min(min_level_since_text, level)
        elif line:
            seen_text, min_level_since_text = True, 99
    out: list[str] = []
    after_heading = False
    for line, kept in zip(lines, keep):
        if not kept:
            continue
        if line.startswith(HEADING):
            out.extend(["", _heading(line)[1]] if out else [_heading(line)[1]])
        elif line or not after_heading:
            out.append(line)
        after_heading = line.startswith(HEADING) or (after_heading and not line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _heading(line: str) -> tuple[int, str]:
    return int(line[len(HEADING)]), line[len(HEADING) + 1:].strip()
