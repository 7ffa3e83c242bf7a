"""Turn CSV text into JSON rows, with numbers, booleans and empty cells typed."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

BOOLEANS = {"true": True, "false": False}
# no leading zeros: "007" and "0123" are codes, not numbers
INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def typed(cell: str) -> Any:
    """A cell as the JSON value it looks like: int, float, bool, null, else text."""
    text = cell.strip()
    if text == "":
        return None
    if text.lower() in BOOLEANS:
        return BOOLEANS[text.lower()]
    if INTEGER.fullmatch(text):
        return int(text)
    if DECIMAL.fullmatch(text):
        return float(text)
    return cell


def main(
    csv_text: str,
    delimiter: str = "",
    header: bool = True,
    infer_types: bool = True,
    columns: list[str] | None = None,
) -> list[Any]:
    """Parse CSV (the delimiter is sniffed unless given) into a list of rows.

    Args:
        csv_text: The CSV document.
        delimiter: The field separator; empty to detect it (comma, semicolon, tab, pipe).
        header: The first row names the columns; each row becomes an object.
        infer_types: Turn "42", "3.5", "true" and empty cells into numbers, booleans and null;
            codes with leading zeros ("007") stay text.
        columns: Names for the columns (instead of, or when there is no, header row).

    Returns:
        One object per row (or one list per row without header or columns).
    """
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(csv_text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(io.StringIO(csv_text), delimiter=delimiter))
    rows = [row for row in rows if row]
    convert = typed if infer_types else (lambda cell: cell)
    names = columns
    if header and rows:
        first, rows = rows[0], rows[1:]
        names = names or [name.strip() for name in first]
    if names is None:
        return [[convert(cell) for cell in row] for row in rows]
    result = []
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) > len(names):
            raise ValueError(f"row {number} has {len(row)} cells for {len(names)} columns")
        cells = [*row, *[""] * (len(names) - len(row))]
        result.append({name: convert(cell) for name, cell in zip(names, cells, strict=True)})
    return result
