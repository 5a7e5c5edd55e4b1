"""Griffe extension for the API reference: two reST habits of the docstrings.

The docstrings in ``cnn/`` and ``derivations/`` are numpy style with Markdown
math, but keep two Sphinx conventions that mkdocstrings would otherwise show
literally:

* roles such as ``:func:`train``` or ``:data:`~cnn.toy_net.SEED_IMAGES```
  become inline code (`` `train` ``, `` `SEED_IMAGES` ``). They are not turned
  into links: a target that is not on the site would be a broken
  cross-reference, which fails the strict build;
* ``#:`` comments, Sphinx's way of documenting a constant or a NamedTuple
  field (on the line(s) above it, or at the end of its line), become that
  attribute's docstring when it has none.

Also the reST literal-block marker ``text::`` at the end of a paragraph
becomes ``text:`` (the indented block after it is already code in Markdown).
The source files are not changed. Enabled in mkdocs.yml under the mkdocstrings
python handler's ``extensions``.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")
_LITERAL_MARKER = re.compile(r"(?<=\S)::(?=\n\s*\n)")
_COMMENT = re.compile(r"#:\s?(.*)$")


def _role(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def rewrite(text: str) -> str:
    """Sphinx roles -> inline code; a trailing ``::`` -> ``:``."""
    return _LITERAL_MARKER.sub(":", _ROLE.sub(_role, text))


def comment_doc(lines: list[str], lineno: int) -> str | None:
    """The ``#:`` comment documenting the assignment on line ``lineno`` (1-based), if any."""
    trailing = _COMMENT.search(lines[lineno - 1])
    if trailing:
        return trailing.group(1).strip()
    above = []
    i = lineno - 2
    while i >= 0 and (match := re.match(r"\s*#:\s?(.*)$", lines[i])):
        above.insert(0, match.group(1).rstrip())
        i -= 1
    return "\n".join(above) if above else None


class SphinxHabits(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs) -> None:
        if obj.is_alias:
            return
        if obj.docstring is None and obj.is_attribute and obj.lineno:
            try:
                lines = obj.lines_collection[obj.filepath]
            except (KeyError, TypeError):
                lines = None
            text = comment_doc(lines, obj.lineno) if lines else None
            if text:
                obj.docstring = griffe.Docstring(
                    text, lineno=obj.lineno, parent=obj,
                    parser=loader.docstring_parser, parser_options=loader.docstring_options)
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
