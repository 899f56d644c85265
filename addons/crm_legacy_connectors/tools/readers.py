"""Readers that turn each kind of legacy source into numbered rows.

Every reader yields ``LegacyRow`` tuples one at a time, so the caller keeps
one batch in memory whatever the size of the source. Row numbers count data
rows from 1, not counting the header line.
"""

import codecs
import csv
import importlib
import io
import re
import sqlite3
import time
import xmlrpc.client
import zipfile
from collections import namedtuple
from urllib.parse import unquote, urlparse

from .values import DETECTED_ENCODINGS, WHITESPACE_DELIMITER, detect_delimiter

LegacyRow = namedtuple("LegacyRow", "number values raw error")
"""One source row: ``values`` maps column names to values; ``error`` is a
``(code, params)`` pair for a row that cannot be mapped, or None."""

CHUNK_SIZE = 1 << 20


class SourceError(Exception):
    """Raised when a source cannot be read at all (connection, file, query).

    ``code`` and ``params`` name a known fault of a file, which the importer
    turns into a translated message; other errors carry the driver's text.
    """

    def __init__(self, message, code=None, **params):
        super().__init__(message)
        self.code = code
        self.params = params


# Byte order marks. A UTF-32 LE file starts like a UTF-16 LE one, and is then
# rejected for the NUL characters it decodes to.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(stream):
    """Return the first encoding of ``DETECTED_ENCODINGS`` that decodes
    ``stream`` entirely, reading it in chunks of one MiB."""
    for encoding in DETECTED_ENCODINGS:
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := stream.read(CHUNK_SIZE):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def choose_encoding(stream, encoding=None):
    """Return the encoding to read ``stream`` with.

    A byte order mark decides, whatever encoding the source sets: it is
    written by the program that made the file. Without one, ``encoding`` is
    used, or detected when empty. UTF-8 is read as ``utf-8-sig`` so that a
    mark never becomes part of the first column's name.
    """
    stream.seek(0)
    head = stream.read(4)
    for mark, marked_encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return marked_encoding
    if encoding and codecs.lookup(encoding).name == "utf-8":
        return "utf-8-sig"
    return encoding or detect_encoding(stream)


def check_text(stream, encoding):
    """Raise ``SourceError`` when ``stream`` is not text in ``encoding``.

    Bytes that do not decode and NUL characters (a binary file, or UTF-16
    without a byte order mark) are reported with their line number.
    """
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    while True:
        chunk = stream.read(CHUNK_SIZE)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            # Lines before the error, counted in the bytes of this chunk.
            line += _count_line_breaks(error.object[: error.start])
            raise SourceError(
                f"line {line}: byte 0x{error.object[error.start]:02X} is not "
                f"valid {encoding}",
                code="encoding",
                line=line,
                encoding=encoding,
                byte=f"0x{error.object[error.start]:02X}",
            ) from error
        nul = text.find("\x00")
        if nul >= 0:
            line += _count_line_breaks(text[:nul])
            raise SourceError(f"line {line}: NUL character", code="nul", line=line)
        line += _count_line_breaks(text)
        if not chunk:
            return


def _count_line_breaks(text):
    """Return the number of CRLF, LF and CR line breaks in ``text`` (str or
    bytes), as the csv module counts lines."""
    if isinstance(text, bytes):
        return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _csv_records(text, delimiter):
    """Yield ``(line, fields, error)`` for each record of ``text``.

    ``line`` is the physical line the record starts on. A quote followed by
    text other than the delimiter spoils one record, which is yielded with
    the error ``quote``. A quote left open, or a field longer than the csv
    module's limit, spoils the rest of the file, so it raises ``SourceError``.
    """
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = str(error)
            if "unexpected end of data" in message:
                raise SourceError(
                    f"line {line}: quote not closed", code="unclosed_quote", line=line
                ) from error
            if "field limit" in message:
                raise SourceError(
                    f"line {line}: {message}",
                    code="field_limit",
                    line=line,
                    limit=csv.field_size_limit(),
                ) from error
            yield line, [], "quote"
            continue
        yield line, fields, None


def _whitespace_records(text):
    for line, record in enumerate(text, start=1):
        yield line, record.split(), None


def read_delimited(
    stream, encoding=None, delimiter=None, has_header=True, on_header=None
):
    """Yield the rows of a CSV or whitespace-separated text file.

    ``stream`` is a binary file object. The whole file is checked first
    (encoding, NUL characters, quotes), so a file that cannot be read
    raises ``SourceError`` before any row is yielded. ``on_header`` is
    called with the column names before the first row, also when the file
    has no data row. A row whose number of fields differs from the header is
    yielded with the error ``column_count``.
    """
    encoding = choose_encoding(stream, encoding)
    check_text(stream, encoding)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        # The delimiter is detected on the first line that is not blank.
        first_line = text.readline()
        while first_line and not first_line.strip():
            first_line = text.readline()
        delimiter = delimiter or detect_delimiter(first_line)
        if delimiter != WHITESPACE_DELIMITER:
            # Raise a quote or field size error before the first row.
            text.seek(0)
            for _record in _csv_records(text, delimiter):
                pass
        text.seek(0)
        yield from _delimited_rows(text, delimiter, has_header, on_header)
    finally:
        # The caller closes the stream.
        text.detach()


def _delimited_rows(text, delimiter, has_header, on_header):
    if delimiter == WHITESPACE_DELIMITER:
        records = _whitespace_records(text)
    else:
        records = _csv_records(text, delimiter)
    header = None
    number = 0
    for line, fields, error in records:
        if not error and not any(value.strip() for value in fields):
            continue
        if header is None and not error:
            if has_header:
                header = [name.strip() for name in fields]
                if on_header:
                    on_header(header)
                continue
            header = [str(index) for index in range(1, len(fields) + 1)]
            if on_header:
                on_header(header)
        number += 1
        if error:
            yield LegacyRow(number, {}, "", ("quote", {"line": line}))
            continue
        raw = delimiter_join(fields, delimiter)
        if len(fields) != len(header):
            yield LegacyRow(
                number,
                {},
                raw,
                ("column_count", {"found": len(fields), "expected": len(header)}),
            )
            continue
        yield LegacyRow(number, dict(zip(header, fields, strict=True)), raw, None)
    if header is None:
        raise SourceError("the file has no header and no rows", code="empty")


def delimiter_join(fields, delimiter):
    return (" " if delimiter == WHITESPACE_DELIMITER else delimiter).join(fields)


# First bytes of an Excel 97-2003 workbook (an OLE2 compound file).
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_xlsx(stream, on_header=None):
    """Yield the rows of the first sheet of an XLSX workbook.

    Cells keep the types openpyxl reads (numbers, dates), so no decimal or
    date format applies to typed cells. ``on_header`` is called with the
    column names before the first row, also when the sheet has no data row.
    """
    import openpyxl

    stream.seek(0)
    head = stream.read(len(OLE2_SIGNATURE))
    if not head:
        raise SourceError("the file is empty", code="empty")
    if head == OLE2_SIGNATURE:
        raise SourceError("Excel 97-2003 workbook", code="xls")
    stream.seek(0)
    if not zipfile.is_zipfile(stream):
        raise SourceError("not a zip archive", code="not_zip")
    stream.seek(0)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises several unrelated types
        raise SourceError(str(error), code="not_xlsx", error=str(error)) from error
    try:
        if not workbook.worksheets:
            raise SourceError("the workbook has no sheet", code="empty")
        sheet = workbook.worksheets[0]
        _check_formula_results(sheet)
        header = None
        number = 0
        for cells in sheet.iter_rows(values_only=True):
            values = ["" if cell is None else cell for cell in cells]
            if not any(str(value).strip() for value in values):
                continue
            if header is None:
                # Trailing empty cells are formatting, not columns.
                while values and values[-1] == "":
                    values.pop()
                header = [str(value).strip() for value in values]
                if on_header:
                    on_header(header)
                continue
            number += 1
            # Trailing empty cells are formatting, not extra columns.
            while len(values) > len(header) and values[-1] == "":
                values.pop()
            # Empty cells at the end of a row may be left out of the file.
            values.extend([""] * (len(header) - len(values)))
            raw = ";".join(str(value) for value in values)
            if len(values) != len(header):
                yield LegacyRow(
                    number,
                    {},
                    raw,
                    ("column_count", {"found": len(values), "expected": len(header)}),
                )
                continue
            yield LegacyRow(number, dict(zip(header, values, strict=True)), raw, None)
        if header is None:
            raise SourceError("the sheet has no header and no rows", code="empty")
    finally:
        workbook.close()


# A cell with a formula and no saved result: <c r="B2"><f>2*3</f><v></v></c>.
UNCALCULATED_FORMULA = re.compile(
    rb'<c\b[^>]*\br="([A-Z]+[0-9]+)"[^>]*>\s*<f\b[^>]*(?:/>|>[^<]*</f>)'
    rb"\s*(?:<v\s*/>|<v>\s*</v>|</c>)"
)


def _check_formula_results(sheet):
    """Raise ``SourceError`` when a formula cell of ``sheet`` has no result.

    Workbooks written by programs often contain formulas that no spreadsheet
    ever calculated. Read with their results, such cells would be empty, so
    their values would be lost without a word. The sheet's XML is scanned in
    chunks.
    """
    overlap = 4096
    with sheet._get_source() as xml:
        tail = b""
        while chunk := xml.read(CHUNK_SIZE):
            data = tail + chunk
            match = UNCALCULATED_FORMULA.search(data)
            if match:
                cell = match.group(1).decode()
                raise SourceError(
                    f"cell {cell}: formula without a saved result",
                    code="formula",
                    cell=cell,
                )
            tail = data[-overlap:]


def _sqlite_path(dsn):
    """Return the file path of a SQLite DSN, or None for other databases.

    ``sqlite:///path/file.db``, ``sqlite:path/file.db`` and a bare path
    ending in ``.db``, ``.sqlite`` or ``.sqlite3`` are SQLite.
    """
    if dsn.startswith("sqlite:"):
        path = dsn[len("sqlite:") :]
        return "/" + path.lstrip("/") if path.startswith("//") else path
    if re.search(r"\.(sqlite3?|db)$", dsn):
        return dsn
    return None


def read_sql(dsn, query, batch_size=1000, timeout=300, on_header=None):
    """Yield the rows of ``query`` on a PostgreSQL or SQLite database.

    The connection is read-only (a read-only transaction on PostgreSQL, a
    read-only open on SQLite), the query is cancelled after ``timeout``
    seconds, and rows are fetched ``batch_size`` at a time from a server-side
    cursor. ``on_header`` is called with the column names before the first
    row, also when the query returns no row.
    """
    sqlite_path = _sqlite_path(dsn)
    if sqlite_path is not None:
        yield from _read_sqlite(sqlite_path, query, batch_size, timeout, on_header)
    elif dsn.startswith(("mysql://", "mariadb://")):
        yield from _read_mysql(dsn, query, batch_size, timeout, on_header)
    elif dsn.startswith("mssql://"):
        yield from _read_mssql(dsn, query, batch_size, timeout, on_header)
    else:
        yield from _read_postgresql(dsn, query, batch_size, timeout, on_header)


def _read_sqlite(path, query, batch_size, timeout, on_header=None):
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as error:
        raise SourceError(str(error)) from error
    deadline = time.monotonic() + timeout
    # Returning a true value from the progress handler aborts the statement.
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 10000)
    try:
        connection.execute("PRAGMA query_only = ON")
        cursor = connection.execute(query)
        columns = [column[0] for column in cursor.description]
        yield from _numbered(cursor, columns, batch_size, on_header)
    except sqlite3.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.close()


def _read_postgresql(dsn, query, batch_size, timeout, on_header=None):
    import psycopg2

    try:
        connection = psycopg2.connect(dsn, connect_timeout=min(timeout, 30))
    except psycopg2.Error as error:
        raise SourceError(str(error).strip()) from error
    try:
        connection.set_session(readonly=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL statement_timeout = %s", [f"{int(timeout * 1000)}"]
            )
        with connection.cursor(name="crm_legacy_read") as cursor:
            cursor.itersize = batch_size
            cursor.execute(query)
            first = cursor.fetchmany(batch_size)
            columns = [column[0] for column in cursor.description]
            if on_header:
                on_header(list(columns))
            number = 0
            while first:
                for record in first:
                    number += 1
                    yield _row(number, columns, record)
                first = cursor.fetchmany(batch_size)
    except psycopg2.Error as error:
        raise SourceError(str(error).strip()) from error
    finally:
        connection.rollback()
        connection.close()


def _import_driver(name, scheme):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise SourceError(
            f"reading {scheme} databases needs the Python package {name}, "
            "which is not installed"
        ) from error


# NOTE: the MySQL and SQL Server readers are not run by the tests, because
# neither server nor driver is installed where the tests run.
def _read_mysql(dsn, query, batch_size, timeout, on_header=None):
    """Yield the rows of ``query`` on MySQL or MariaDB with PyMySQL.

    The session is read-only and ``max_execution_time`` cancels the query
    after ``timeout`` seconds (MySQL 5.7.8 and later; MariaDB ignores it).
    """
    pymysql = _import_driver("pymysql", "MySQL")
    url = urlparse(dsn)
    try:
        connection = pymysql.connect(
            host=url.hostname,
            port=url.port or 3306,
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            database=url.path.lstrip("/"),
            connect_timeout=min(timeout, 30),
            read_timeout=timeout,
            cursorclass=pymysql.cursors.SSCursor,
        )
    except pymysql.Error as error:
        raise SourceError(str(error)) from error
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute(f"SET SESSION max_execution_time = {int(timeout * 1000)}")
            cursor.execute(query)
            columns = [column[0] for column in cursor.description]
            yield from _numbered(cursor, columns, batch_size, on_header)
    except pymysql.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.close()


def _read_mssql(dsn, query, batch_size, timeout, on_header=None):
    """Yield the rows of ``query`` on SQL Server with pymssql.

    SQL Server has no read-only session setting, so the query runs in a
    transaction that is rolled back. Give the source a login that can only
    read.
    """
    pymssql = _import_driver("pymssql", "SQL Server")
    url = urlparse(dsn)
    try:
        connection = pymssql.connect(
            server=url.hostname,
            port=str(url.port or 1433),
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            database=url.path.lstrip("/"),
            login_timeout=min(timeout, 30),
            timeout=timeout,
        )
    except pymssql.Error as error:
        raise SourceError(str(error)) from error
    try:
        cursor = connection.cursor()
        cursor.execute(query)
        columns = [column[0] for column in cursor.description]
        yield from _numbered(cursor, columns, batch_size, on_header)
    except pymssql.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.rollback()
        connection.close()


def _numbered(cursor, columns, batch_size, on_header=None):
    if on_header:
        on_header(list(columns))
    number = 0
    while records := cursor.fetchmany(batch_size):
        for record in records:
            number += 1
            yield _row(number, columns, record)


def _row(number, columns, record):
    values = {
        column: "" if value is None else value
        for column, value in zip(columns, record, strict=True)
    }
    raw = ";".join(str(value) for value in values.values())
    return LegacyRow(number, values, raw, None)


def read_odoo(url, database, login, password, model, domain, fields, batch_size=500):
    """Yield the records of ``model`` matching ``domain`` on another Odoo.

    Records are read over XML-RPC in id order, ``batch_size`` at a time,
    paging on the last id read rather than on an offset so that records
    created meanwhile do not shift the pages. Many2one values become their
    display name.
    """
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SourceError(f"invalid URL {url!r}")
    base = url.rstrip("/")
    try:
        common = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/common", allow_none=True)
        uid = common.authenticate(database, login, password, {})
        if not uid:
            raise SourceError(f"login {login!r} rejected by {base} ({database})")
        proxy = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/object", allow_none=True)
        last_id = 0
        number = 0
        while True:
            records = proxy.execute_kw(
                database,
                uid,
                password,
                model,
                "search_read",
                [list(domain) + [("id", ">", last_id)]],
                {"fields": list(fields), "order": "id", "limit": batch_size},
            )
            if not records:
                return
            for record in records:
                last_id = record["id"]
                number += 1
                values = {}
                for name in fields:
                    value = record.get(name)
                    if isinstance(value, list) and len(value) == 2:
                        value = value[1]
                    values[name] = "" if value in (False, None) else value
                raw = ";".join(str(value) for value in values.values())
                yield LegacyRow(number, values, raw, None)
    except (xmlrpc.client.Error, OSError) as error:
        raise SourceError(str(error)) from error
