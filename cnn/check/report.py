"""What a check returns: a verdict, the worst error, and the name of the mistake."""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import asdict, dataclass, field

__all__ = ["Report"]


@dataclass(frozen=True)
class Report:
    """The result of checking one function.

    Attributes
    ----------
    function : str
        The checkable function, e.g. ``"conv2d_backward"``.
    ok : bool
        Whether every probe gave the right outputs (max-norm relative error
        at most :data:`cnn.check.TOLERANCE`).
    diagnosis : str or None
        The catalogue key of the one known mistake the outputs match on
        every probe, or None (right, or wrong in no known way).
    explanation : str or None
        One sentence about the diagnosed mistake.
    page : str or None
        The site page (path under ``docs/``, with an anchor) that explains the
        right formula: the diagnosed mistake's page, or the function's page.
    worst_error : float or None
        The largest relative error over all probes whose outputs could be
        compared (``inf`` for a wrong shape); None if none could.
    failed_probe : str or None
        The first probe that failed: shapes and options.
    message : str
        What went wrong (or right), in a sentence or two.
    probes : int
        How many probes were run.
    notes : list of str
        Remarks, e.g. probes skipped because the function takes no ``stride``.
    catalogue_checked : bool
        Whether the outputs were compared with the catalogue (not after a hang or
        modified inputs, where probing stops).
    """

    function: str
    ok: bool
    diagnosis: str | None
    explanation: str | None
    page: str | None
    worst_error: float | None
    failed_probe: str | None
    message: str
    probes: int = 0
    notes: list = field(default_factory=list)
    catalogue_checked: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "right" if self.ok else "WRONG"
        lines = [textwrap.fill(f"{self.function}: {verdict}. {self.message}", width=88,
                               subsequent_indent="    ")]
        if self.failed_probe:
            lines.append(f"  first failing probe: {self.failed_probe}")
        if self.worst_error is not None:
            lines.append(f"  worst relative error: {_fmt(self.worst_error)}")
        if not self.ok:
            if self.diagnosis:
                lines.append(textwrap.fill(f"diagnosis: {self.diagnosis}: {self.explanation}",
                                           width=88, initial_indent="  ",
                                           subsequent_indent="    "))
            elif self.catalogue_checked and self.worst_error is not None:
                lines.append("  diagnosis: no known mistake matches")
            if self.page:
                lines.append(f"  read: {self.page}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["worst_error"] is not None and not math.isfinite(d["worst_error"]):
            d["worst_error"] = None          # JSON has no inf; the message says why
        return d

    def to_json(self) -> str:
        """The report as one JSON object (``worst_error`` null when not finite)."""
        return json.dumps(self.to_dict(), sort_keys=True)


def _fmt(e: float) -> str:
    return "inf (wrong shape)" if math.isinf(e) else f"{e:.3g}"
