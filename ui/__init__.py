"""The dashboard's UI helpers (they import streamlit; ``src/safety`` never does): cached data
access (``data``), the shared sidebar (``sidebar``), badges, links and downloads (``widgets``),
and what every run starts with (``startup``)."""
