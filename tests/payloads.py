"""Data that try to become markup or formulas, for the tests of inert outputs."""

# Markdown and HTML links, images and script, then OWASP's CSV injection formulas: put in
# adverse-event terms by a real delivery (tests/conftest.py payload_db), all must stay text.
PAYLOADS = (
    "![pixel](http://evil.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "<a href='http://evil.io'>x</a>",  # short enough for a chart's axis label
    "Nausea www.evil.example http://evil.example/auto",
    "[Click here](http://evil.example/phish)",
    '=HYPERLINK("http://evil.example/x","Click me")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
)
PAYLOAD_SUBJECT = "NCT04232592-01-026"  # HIGH dose, her SAE is a DLT candidate
