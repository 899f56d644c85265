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
from collections import namedtuple
from urllib.parse import unquote, urlparse

from .values import DETECTED_ENCODINGS, WHITESPACE_DELIMITER, detect_delimiter

LegacyRow = namedtuple("LegacyRow", "number values raw error")
"""One source row: ``values`` maps column names to values; ``error`` is a
``(code, params)`` pair for a row that cannot be mapped, or None."""

CHUNK_SIZE = 1 << 20


class SourceError(Exception):
    """Raised when a source cannot be read at all (connection, file, query)."""


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


def read_delimited(stream, encoding=None, delimiter=None, has_header=True):
    """Yield the rows of a CSV or whitespace-separated text file.

    ``stream`` is a binary file object. A row whose number of fields differs
    from the header is yielded with the error ``column_count``.
    """
    encoding = encoding or detect_encoding(stream)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    first_line = text.readline()
    delimiter = delimiter or detect_delimiter(first_line)
    text.seek(0)
    if delimiter == WHITESPACE_DELIMITER:
        records = (line.split() for line in text)
    else:
        records = csv.reader(text, delimiter=delimiter)

    header = None
    number = 0
    for fields in records:
        if not any(value.strip() for value in fields):
            continue
        if header is None:
            if has_header:
                header = [name.strip() for name in fields]
                continue
            header = [str(index) for index in range(1, len(fields) + 1)]
        number += 1
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


def delimiter_join(fields, delimiter):
    return (" " if delimiter == WHITESPACE_DELIMITER else delimiter).join(fields)


def read_xlsx(stream):
    """Yield the rows of the first sheet of an XLSX workbook.

    Cells keep the types openpyxl reads (numbers, dates), so no decimal or
    date format applies to typed cells.
    """
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises several unrelated types
        raise SourceError(str(error)) from error
    try:
        sheet = workbook.worksheets[0]
        header = None
        number = 0
        for cells in sheet.iter_rows(values_only=True):
            values = ["" if cell is None else cell for cell in cells]
            if not any(str(value).strip() for value in values):
                continue
            if header is None:
                header = [str(value).strip() for value in values]
                continue
            number += 1
            # Trailing empty cells are formatting, not extra columns.
            while len(values) > len(header) and values[-1] == "":
                values.pop()
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
    finally:
        workbook.close()


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


def read_sql(dsn, query, batch_size=1000, timeout=300):
    """Yield the rows of ``query`` on a PostgreSQL or SQLite database.

    The connection is read-only (a read-only transaction on PostgreSQL, a
    read-only open on SQLite), the query is cancelled after ``timeout``
    seconds, and rows are fetched ``batch_size`` at a time from a server-side
    cursor.
    """
    sqlite_path = _sqlite_path(dsn)
    if sqlite_path is not None:
        yield from _read_sqlite(sqlite_path, query, batch_size, timeout)
    elif dsn.startswith(("mysql://", "mariadb://")):
        yield from _read_mysql(dsn, query, batch_size, timeout)
    elif dsn.startswith("mssql://"):
        yield from _read_mssql(dsn, query, batch_size, timeout)
    else:
        yield from _read_postgresql(dsn, query, batch_size, timeout)


def _read_sqlite(path, query, batch_size, timeout):
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
        yield from _numbered(cursor, columns, batch_size)
    except sqlite3.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.close()


def _read_postgresql(dsn, query, batch_size, timeout):
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
def _read_mysql(dsn, query, batch_size, timeout):
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
            yield from _numbered(cursor, columns, batch_size)
    except pymysql.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.close()


def _read_mssql(dsn, query, batch_size, timeout):
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
        yield from _numbered(cursor, columns, batch_size)
    except pymssql.Error as error:
        raise SourceError(str(error)) from error
    finally:
        connection.rollback()
        connection.close()


def _numbered(cursor, columns, batch_size):
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
