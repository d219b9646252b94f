"""arXiv LaTeX: `source` (the job), `archive` (tarballs and the main file), `readme`
(00README), `tex` (comments, sections, bibliography), `macros` (user macro expansion)."""
