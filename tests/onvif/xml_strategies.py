"""Hypothesis strategies for XML a hostile device or client could send.

Three kinds, so that inputs get past the XML parser into the code behind it as well as
failing in it: raw bytes; a real message with random edits (bytes deleted, inserted,
replaced, the end cut off); and well-formed documents built from the tags and attributes a
parser looks for, with text and values of any kind.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fixed seed (derandomize), no example database, seconds in total; the deadline is a hang
# guard per input, far above the typical time of a few milliseconds.
FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=2000,
    # Module-scoped servers and caplog (cleared per example) are shared on purpose.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

# Text that XML 1.0 can carry (anything else would only test the parser's first byte).
_XML_CHAR = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
    + "\ufffe\uffff",
)
XML_TEXT = st.one_of(
    st.text(_XML_CHAR, max_size=40),
    st.sampled_from(
        [
            "",
            "true",
            "false",
            "1",
            "0",
            "-1",
            "nan",
            "inf",
            "1e309",
            "PT5S",
            "P",
            "2026-01-01T00:00:00Z",
        ]
    ),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with a few random edits."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        if edit == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif edit == "insert":
            data[at:at] = draw(
                st.one_of(
                    st.binary(max_size=8),
                    st.sampled_from([b"<", b">", b"&", b"&amp;", b"<x>", b"</x>", b'"', b"]]>"]),
                )
            )
        elif edit == "replace":
            data[at] = draw(st.integers(0, 255))
        else:
            del data[at:]
    return bytes(data)


def elements(
    tags: list[str], attributes: list[str], max_leaves: int = 12
) -> st.SearchStrategy[str]:
    """Well-formed XML elements (as text) from ``tags`` (``prefix:Local``), nested at random,
    with attributes from ``attributes`` and any text."""

    def attrs() -> st.SearchStrategy[str]:
        return st.dictionaries(st.sampled_from(attributes), XML_TEXT, max_size=3).map(
            lambda d: "".join(f" {name}={quoteattr(value)}" for name, value in d.items())
        )

    leaf = st.tuples(st.sampled_from(tags), attrs(), XML_TEXT).map(
        lambda t: f"<{t[0]}{t[1]}>{escape(t[2])}</{t[0]}>"
    )
    return st.recursive(
        leaf,
        lambda inner: st.tuples(st.sampled_from(tags), attrs(), st.lists(inner, max_size=4)).map(
            lambda t: f"<{t[0]}{t[1]}>{''.join(t[2])}</{t[0]}>"
        ),
        max_leaves=max_leaves,
    )


def xml_inputs(seeds: list[bytes], wrap: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Raw bytes, edited seeds, or well-formed documents from ``wrap``."""
    return st.one_of(st.binary(max_size=512), mutated(seeds), wrap)
