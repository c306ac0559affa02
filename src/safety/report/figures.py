"""Static images of plotly figures with kaleido and Debian's Chromium, and figure fingerprints.

Kaleido starts a headless Chromium for every call unless a server is running: about 2 s a
figure without one, 0.13 s with one (measured in ../shared/STACK.md). :func:`to_png` starts
one server per process on first use and stops it at exit. Chromium is found on the PATH
(``/usr/bin/chromium``) or at ``$BROWSER_PATH``; kaleido never downloads one here.

Reproducibility: the PNG bytes were identical across runs and processes with the same Chromium
and kaleido, but a Chromium upgrade may change antialiasing. So a report's content hash covers
each figure's *specification* (:func:`figure_spec`, the plotly JSON: data and layout), not its
pixels; the PNG files (and the PDF and HTML that embed them) are listed in the manifest with
their sha256 and the renderer versions.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import warnings
from importlib.metadata import PackageNotFoundError, version

import plotly.graph_objects as go
import plotly.io as pio

log = logging.getLogger(__name__)

# plotly's own template, named: importing Streamlit makes its template plotly's default, so a
# figure left to the default would look (and hash) different in the dashboard and the CLI.
REPORT_TEMPLATE = "plotly"
PNG_WIDTH = 1000  # px at scale 1: the width of an A4 landscape text block at ~100 dpi
PNG_SCALE = 2  # twice the pixels, sharp when printed

_lock = threading.Lock()
_started = False


def start_server() -> None:
    """Start kaleido's Chromium server once for this process (no-op when already running)."""
    global _started
    with _lock:
        if _started:
            return
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(stop_server)
        _started = True
        log.info("kaleido server started")


def stop_server() -> None:
    """Stop the kaleido server of this process, if one runs."""
    global _started
    with _lock:
        if not _started:
            return
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
        _started = False


def report_theme(fig: go.Figure) -> go.Figure:
    """A copy of the figure in the report's theme, whatever process builds it: the template
    pinned (:data:`REPORT_TEMPLATE`), axis titles clear of their tick labels (automargin)."""
    themed = go.Figure(fig)
    themed.update_layout(template=pio.templates[REPORT_TEMPLATE])
    themed.update_xaxes(automargin=True)
    themed.update_yaxes(automargin=True)
    return themed


def to_png(
    fig: go.Figure, width: int = PNG_WIDTH, height: int | None = None, scale: int = PNG_SCALE
) -> bytes:
    """The figure as PNG bytes (plotly's default template, white background)."""
    start_server()
    height = height or int(fig.layout.height or 450)
    with warnings.catch_warnings():
        # plotly warns on every call that kaleido options are ignored when a server runs
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        with _lock:  # one request at a time: the server is a process-wide singleton
            return fig.to_image(format="png", width=width, height=height, scale=scale)


def figure_spec(fig: go.Figure) -> bytes:
    """The figure's data and layout as canonical JSON bytes (sorted keys): what the content
    hash covers instead of the pixels."""
    return json.dumps(json.loads(fig.to_json()), sort_keys=True, separators=(",", ":")).encode()


def renderer_versions() -> dict[str, str]:
    """Versions of the packages that turn tables and figures into files (for the manifest)."""
    out = {}
    for package in ("plotly", "kaleido", "choreographer", "fpdf2", "xlsxwriter", "pandas",
                    "duckdb"):  # fmt: skip
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
