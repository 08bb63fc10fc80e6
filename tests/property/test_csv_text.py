"""Property test: every CSV sigma writes (listings, exports, the web UI export) goes through
output.csv_text, and reads back cell for cell with the csv module and the importer's formula
guard (text.csv_unsafe), whatever the cells hold (quotes, commas, CR, LF, CRLF, NUL-free
unicode, formula characters); and no cell it writes starts like a spreadsheet formula."""

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from sigma.formats import csv_text
from sigma.text import FORMULA_TRIGGERS, csv_unsafe

cell = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', ",", "\r", "\n", ";", " ", "=", "[", "+", "-", "@", "'", "\t"]),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(cell, min_size=n, max_size=n),
            st.lists(st.lists(cell, min_size=n, max_size=n), max_size=6),
        )
    )
)
def test_csv_text_reads_back_cell_for_cell(table):
    header, rows = table
    text = csv_text(header, rows)
    back = list(csv.reader(io.StringIO(text, newline="")))
    for row in back:
        for written in row:
            assert written[:1] not in FORMULA_TRIGGERS, written  # a spreadsheet shows it as text
    # a row whose cells are all empty is written as an empty line, which csv reads as []
    assert [[csv_unsafe(c) for c in r] or [""] * len(header) for r in back] == [header, *rows]
