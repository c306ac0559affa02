"""R's ``signif(x, 15)``, as admiral applies it on both sides of every CTCAE comparison.

``signif_scalar`` is R's ``fprec``: scale by a power of ten, round half to even, scale back. The
SQL generator (``safety.ctcae.sql``) uses it for the constants it writes and emits the same
steps as the ``ctcae_signif`` macro for the values.

References
----------
R source, ``src/nmath/fprec.c``; pharmaverse admiral, ``get_admiral_option("signif_digits")``.
"""

from __future__ import annotations

import math

SIGNIF_DIGITS = 15  # admiral: get_admiral_option("signif_digits") defaults to 15

_MAX_EXACT_POW10 = 22  # R fprec: MAX_DIGITS; 10**k is exact in binary64 for k <= 22
# Outside this magnitude range the value is returned unrounded (R's fprec switches to another
# scaling near the double range limits; no lab value or limit comes anywhere close).
_SIGNIF_RANGE = (1e-200, 1e200)


def signif_scalar(x: float | None, digits: int = SIGNIF_DIGITS) -> float | None:
    """Round ``x`` to ``digits`` significant digits exactly as R's ``signif`` does."""
    if x is None or math.isnan(x) or not _SIGNIF_RANGE[0] < abs(x) < _SIGNIF_RANGE[1]:
        return x
    if digits > _MAX_EXACT_POW10:
        return x
    sign = -1.0 if x < 0 else 1.0
    ax = abs(x)
    e10 = int(digits - 1 - math.floor(math.log10(ax)))
    if e10 > 0:
        p10 = 10.0**e10
        return sign * (round(ax * p10) / p10)
    p10 = 10.0 ** (-e10)
    return sign * (round(ax / p10) * p10)
