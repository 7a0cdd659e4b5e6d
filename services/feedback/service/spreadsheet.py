"""Scorecard tables as an Excel workbook (XLSX), the same columns as the CSV export."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_bytes(rows: list[dict[str, Any]], sheet: str) -> bytes:
    """One sheet: a header row of the columns, then one row per entry. Numbers stay
    numbers (Excel sums and sorts them); ids and dates become text; missing values blank."""
    return sheets_bytes({sheet: rows})


def sheets_bytes(sheets: dict[str, list[dict[str, Any]]]) -> bytes:
    """One sheet per name, in order, each laid out as :func:`workbook_bytes` lays its one."""
    book = Workbook(write_only=True)
    for sheet, rows in sheets.items():
        page = book.create_sheet(sheet)
        if rows:
            columns = list(rows[0])
            page.append(columns)
            for row in rows:
                page.append([_cell(row.get(c)) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
