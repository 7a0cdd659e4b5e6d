"""Reading population-registry spreadsheets (CSV and XLSX) into numbered rows of text.

Headers may be English or the Chinese ones grid workers' templates use. A file that cannot
be read at all is refused whole (nothing is written); row-level problems are the importer's.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook

from shared.problems import AppError, PayloadTooLarge, RuleViolation, UnsupportedMediaType

COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码"),
    "name": ("name", "姓名"),
    "gender": ("gender", "性别"),
    "birth_date": ("birth_date", "出生日期"),
    "household_id": ("household_id", "户号", "户编号"),
    "address": ("address", "地址", "住址", "现住址"),
    "region_code": ("region_code", "区划代码", "网格编码", "网格代码"),
    "tags": ("tags", "标签", "人员标签"),
}
REQUIRED = ("id_number", "name", "region_code")
XLSX_MAGIC = b"PK\x03\x04"
# A workbook from Excel or WPS has a dozen parts; thousands only make the directory costly.
MAX_XLSX_PARTS = 1000


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict[str, str]


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> str:
    name = (filename or "").lower()
    if name.endswith(".xlsx") or head.startswith(XLSX_MAGIC):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    has_extension = "." in name.rsplit("/", 1)[-1]
    if not has_extension and (content_type or "").startswith("text/csv"):
        return "csv"
    raise UnsupportedMediaType("upload a .csv or .xlsx file", code="unsupported_file_type")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        # Excel stores long digit strings as numbers; 18-digit IDs lose digits this way and
        # then fail their check digit, which the row error says.
        return str(int(value))
    return str(value).strip()


def _header_map(header: list[str]) -> dict[int, str]:
    lookup = {alias.lower(): field for field, aliases in COLUMNS.items() for alias in aliases}
    mapping: dict[int, str] = {}
    for position, title in enumerate(header):
        field = lookup.get(title.strip().lower())
        if field is not None and field not in mapping.values():
            mapping[position] = field
    missing = [f for f in REQUIRED if f not in mapping.values()]
    if missing:
        raise RuleViolation(
            f"missing columns: {', '.join(missing)}", code="spreadsheet_columns_missing",
            extra={"missing": missing},
        )
    return mapping


def _rows(lines: Iterator[list[object]], max_rows: int) -> list[SheetRow]:
    mapping = _header_map(_header(lines))
    rows: list[SheetRow] = []
    for number, line in enumerate(lines, start=2):
        cells = [_cell_text(c) for c in line]
        if not any(cells):
            continue  # blank lines are layout, not data
        if len(rows) >= max_rows:
            raise _too_many_rows(max_rows)
        values = {field: cells[pos] if pos < len(cells) else ""
                  for pos, field in mapping.items()}
        rows.append(SheetRow(number, values))
    if not rows:
        raise RuleViolation("the file has a header but no rows", code="spreadsheet_empty")
    return rows


def _header(lines: Iterator[list[object]]) -> list[str]:
    header_line = next(lines, None)
    if header_line is None:
        raise RuleViolation("the file is empty", code="spreadsheet_empty")
    return [_cell_text(c) for c in header_line]


def _too_many_rows(max_rows: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"at most {max_rows} rows per import", code="too_many_rows",
                           extra={"max_rows": max_rows})


def read_rows(data: bytes, fmt: str, *, max_rows: int, max_xml_bytes: int | None = None
              ) -> list[SheetRow]:
    """Every data row, streamed from the file and refused past ``max_rows``. CPU-bound
    (seconds for a large sheet): services call it off the event loop."""
    with _lines(data, fmt, max_rows=max_rows, max_xml_bytes=max_xml_bytes) as lines:
        return _rows(lines, max_rows)


def check_readable(data: bytes, fmt: str, *, max_rows: int, max_xml_bytes: int | None) -> None:
    """What can be refused without reading the rows: the sizes the XLSX declares (its zip
    directory and its sheet's dimension) and the header. Cheap; still off the event loop."""
    with _lines(data, fmt, max_rows=max_rows, max_xml_bytes=max_xml_bytes) as lines:
        _header_map(_header(lines))


@contextmanager
def _lines(data: bytes, fmt: str, *, max_rows: int, max_xml_bytes: int | None
           ) -> Iterator[Iterator[list[object]]]:
    if fmt == "xlsx":
        with _xlsx_lines(data, max_rows, max_xml_bytes) as lines:
            yield lines
    else:
        yield _csv_lines(data)


def _csv_lines(data: bytes) -> Iterator[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RuleViolation("the CSV is neither UTF-8 nor GB18030", code="spreadsheet_unreadable")
    if "\x00" in text:
        raise RuleViolation("the CSV contains binary data", code="spreadsheet_unreadable")
    return _csv_records(csv.reader(io.StringIO(text)))


def _csv_records(reader: Iterator[list[Any]]) -> Iterator[list[object]]:
    try:
        yield from reader
    except csv.Error as exc:
        raise RuleViolation(f"the CSV cannot be parsed: {exc}",
                            code="spreadsheet_unreadable") from None


def check_xlsx_sizes(data: bytes, max_xml_bytes: int) -> None:
    """Refuse a workbook whose parts would unpack past ``max_xml_bytes`` — read from the zip
    central directory, before anything is inflated. Reading a part never yields more than
    its declared size (zipfile stops there and fails the CRC), so the declaration is a bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise RuleViolation(f"the XLSX cannot be opened ({type(exc).__name__})",
                            code="spreadsheet_unreadable") from None
    unpacked = sum(part.file_size for part in parts)
    if len(parts) > MAX_XLSX_PARTS or unpacked > max_xml_bytes:
        raise PayloadTooLarge(
            f"the workbook unpacks to {unpacked} bytes in {len(parts)} parts; at most "
            f"{max_xml_bytes} bytes in {MAX_XLSX_PARTS} parts are read",
            code="spreadsheet_too_large",
            extra={"uncompressed_bytes": unpacked, "max_uncompressed_bytes": max_xml_bytes},
        )


@contextmanager
def _xlsx_lines(data: bytes, max_rows: int, max_xml_bytes: int | None
                ) -> Iterator[Iterator[list[object]]]:
    if max_xml_bytes is not None:
        check_xlsx_sizes(data, max_xml_bytes)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # an uploaded file can fail the parser in any way it likes
        raise RuleViolation(f"the XLSX cannot be opened ({type(exc).__name__})",
                            code="spreadsheet_unreadable") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise RuleViolation("the workbook has no sheet", code="spreadsheet_empty")
        declared = sheet.max_row  # the sheet's <dimension>, when it has one
        if isinstance(declared, int) and declared - 1 > max_rows:
            raise _too_many_rows(max_rows)
        # Read every row whatever the dimension says: one that understates would otherwise
        # cut rows off silently. The row limit bounds the reading instead.
        sheet.reset_dimensions()
        yield (list(r) for r in sheet.iter_rows(values_only=True))
    except AppError:
        raise
    except Exception as exc:  # malformed XML, bad zip data: the file, not us
        raise RuleViolation(f"the XLSX cannot be read ({type(exc).__name__})",
                            code="spreadsheet_unreadable") from None
    finally:
        workbook.close()
