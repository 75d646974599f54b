"""Escaping shared by the reporters.

Every string that comes from a policy (Sids, ARNs, condition values, file names)
is hostile until escaped for the format it lands in. One function per target
format, so a reporter never improvises its own escaping.
"""

from __future__ import annotations

import html
import re

_ANSI_SEQUENCE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI: colours, cursor moves
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?    # OSC: window titles, hyperlinks
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?         # DCS, SOS, PM, APC strings
    | \x1b[ -/]*[0-~]?                      # other escape sequences, or a lone ESC
    | \x9b[0-?]*[ -/]*[@-~]                 # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 except tab and newline, DEL, C1, the line and paragraph separators (line breaks to str.splitlines and to
# JavaScript), and the bidirectional formatting controls that reorder text on screen ("Trojan Source").
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 cannot carry at all, even as a character reference.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Backslash escapes for what could start emphasis, code, a link, a table cell, math.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#!|~$])")


def strip_control(text: str) -> str:
    """Remove terminal escape sequences and control characters, keeping ``\\n`` and ``\\t``.

    ANSI/VT sequences go as a whole (``\\x1b[31m`` leaves nothing behind, not ``[31m``);
    then every remaining C0/C1 control character, DEL and bidi override goes too.
    """
    if text.isprintable():  # none of them is printable (the usual case: nothing to strip)
        return text
    return _CONTROL_CHARS.sub("", _ANSI_SEQUENCE.sub("", text))


def one_line(text: str) -> str:
    """Control characters stripped and every run of whitespace folded into one space."""
    return " ".join(strip_control(text).split())


def xml_text(text: str) -> str:
    """Text that XML 1.0 can carry: control sequences and forbidden code points removed.

    Markup escaping is left to the XML serialiser (``xml.etree``), which does it right.
    """
    return _XML_FORBIDDEN.sub("", strip_control(text))


def html_text(text: object) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return html.escape(strip_control(str(text)), quote=True)


def markdown_text(text: object) -> str:
    """Inline Markdown text that renders literally, safe inside a GitHub table cell.

    Newlines become spaces (a table row is one line), ``<``, ``>`` and ``&`` become entities
    (no tag can open, so quotes stay as written and read well as plain text, in a mail),
    Markdown punctuation is backslash-escaped, and ``@`` gets a zero-width space so a
    condition value like ``@org/team`` cannot mention anyone.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(str(text)))
    return html.escape(escaped, quote=False).replace("@", "@&#8203;")


def markdown_fence(text: str) -> str:
    """A fenced code block whose fence is longer than any backtick run inside ``text``."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def github_data(text: str) -> str:
    """Escape the message part of a GitHub workflow command (after ``::``)."""
    return strip_control(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def github_property(text: str) -> str:
    """Escape a property value of a GitHub workflow command (``file=``, ``title=``)."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")
