"""Safety monitoring for phase 1 dose-escalation trials.

The library behind the dashboard, the command line and the DSMB reports. It never imports
streamlit: pages call into it, not the other way round.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("safety")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
