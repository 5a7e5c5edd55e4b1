"""Matplotlib in the language of the page, for the notebooks' plots.

The notebooks label their plots through the ``notebooks`` catalogue
(``_ = Domain("notebooks")``; ``docs/locale/<language>/notebooks.po``); a
Chinese label needs a font with Chinese glyphs, which matplotlib's default
(DejaVu Sans) has not. Each notebook calls :func:`use_language_fonts` once,
in its import cell.
"""

from __future__ import annotations

import warnings

from docs.locale import ENGLISH, language

#: Fonts with Chinese glyphs, the first installed one is used: WenQuanYi Micro Hei is
#: Debian's and Ubuntu's fonts-wqy-microhei (this machine's and CI's).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC",
             "Microsoft YaHei", "PingFang SC", "SimHei")


def use_language_fonts() -> str | None:
    """Put a font for the page's language first in matplotlib's ``font.sans-serif``
    (the font used, or None).

    English changes nothing. Another language gets the first installed font
    of :data:`CJK_FONTS`; if none is installed, a warning says so and
    matplotlib is left as it is (its labels then show boxes for the glyphs it
    lacks, the build goes on).
    """
    if language() == ENGLISH:
        return None
    import matplotlib as mpl
    from matplotlib import font_manager

    font = _installed_cjk_font()
    if font is None:       # matplotlib lists the fonts once, in its cache: newer ones are not there
        known = {entry.fname for entry in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):   # a file FreeType cannot read
                    pass
        font = _installed_cjk_font()
    if font is None:
        warnings.warn(f"no font with Chinese glyphs is installed (looked for {', '.join(CJK_FONTS)}); "
                      f"the plots' labels will not render: install fonts-wqy-microhei",
                      stacklevel=2)
        return None
    mpl.rcParams["font.sans-serif"] = [font, *(name for name in mpl.rcParams["font.sans-serif"]
                                               if name != font)]
    return font


def _installed_cjk_font() -> str | None:
    """The first of :data:`CJK_FONTS` that matplotlib knows."""
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)
