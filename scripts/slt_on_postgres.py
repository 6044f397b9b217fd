#!/usr/bin/env python3
"""Runs our sqllogictest files against a PostgreSQL server (the differential
mode), to check that their expected outcomes are PostgreSQL's.

    scripts/slt_on_postgres.py "host=/tmp/pg port=5432 user=postgres" sqllogictest/*.slt

Each file runs in a fresh database, created and dropped here. Understands
what our files use: `statement ok`, `statement error <regex>`, `statement
count <n>`, `query <types> [nosort|rowsort|valuesort]` with `----`
results, `query error <regex>`, `connection <name>` (one connection per
name, autocommit, so BEGIN and COMMIT are sent as written), and the
condition lines `skipif <label>` / `onlyif <label>` with the label
`postgresql` (so `onlyif basalt` records, such as EXPLAIN output, are
skipped here). Values are PostgreSQL's text output, NULL as `NULL` and the
empty string as `(empty)`, as tests/sqllogictest.rs renders basalt's;
errors are matched as "<SQLSTATE> <message>". Prints each mismatch and
exits non-zero if there was one.
"""
import re
import sys

import psycopg2
import psycopg2.extensions

LABEL = "postgresql"

# Every value as PostgreSQL's own text output, not as a Python value.
for oid in (16, 20, 21, 23, 26, 700, 701, 1700, 1082, 1083, 1114, 1184, 1186):
    psycopg2.extensions.register_type(
        psycopg2.extensions.new_type((oid,), f"TEXT{oid}", lambda value, cursor: value)
    )


def records(path):
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].startswith("#"):
            i += 1
            continue
        start = i
        block = []
        while i < len(lines) and lines[i].strip():
            if not lines[i].startswith("#"):
                block.append(lines[i])
            i += 1
        yield start + 1, block


def text(value):
    if value is None:
        return "NULL"
    value = str(value)
    return value if value else "(empty)"


def applies(conditions):
    for kind, label in conditions:
        if kind == "skipif" and label == LABEL:
            return False
        if kind == "onlyif" and label != LABEL:
            return False
    return True


def pattern_of(error):
    """An error as a pattern that matches exactly its text."""
    return re.sub(r"([()\[\]{}.*+?^$|\\])", r"\\\1", error)


def run_file(dsn, database, path, complete=False):
    failures = 0
    connections = {}
    source = open(path).read().split("\n")
    edits = []  # (first line index, last line index exclusive, new lines)

    def connection(name):
        if name not in connections:
            conn = psycopg2.connect(dsn, dbname=database)
            conn.autocommit = True
            connections[name] = conn
        return connections[name]

    for line, block in records(path):
        conditions = []
        while block and block[0].split()[0] in ("skipif", "onlyif"):
            words = block[0].split()
            conditions.append((words[0], words[1]))
            block = block[1:]
        if not block or block[0].startswith("halt") or block[0].startswith("hash-threshold"):
            continue
        name = "default"
        if block[0].startswith("connection "):
            name = block[0].split()[1]
            block = block[1:]
        if not applies(conditions):
            continue
        header, rest = block[0], block[1:]
        header_index = line - 1 + next(
            i for i, text in enumerate(source[line - 1 :]) if text == header
        )
        if "----" in rest:
            sql = "\n".join(rest[: rest.index("----")])
            expected = rest[rest.index("----") + 1 :]
        else:
            sql, expected = "\n".join(rest), []
        cursor = connection(name).cursor()
        error, rows, count = None, None, None
        try:
            cursor.execute(sql)
            count = cursor.rowcount
            if cursor.description is not None:
                rows = [[text(v) for v in row] for row in cursor.fetchall()]
        except psycopg2.Error as e:
            error = f"{e.pgcode} {e.diag.message_primary or ''}"
        words = header.split()
        if complete:
            end = header_index + 1
            while end < len(source) and source[end].strip():
                end += 1
            sql_lines = source[header_index + 1 : end]
            if "----" in sql_lines:
                sql_lines = sql_lines[: sql_lines.index("----")]
            if error:
                kind = "query" if words[0] == "query" else "statement"
                new = [f"{kind} error {pattern_of(error.strip())}"] + sql_lines
            elif words[0] == "query":
                kind = [w for w in words if w != "error"]
                if len(kind) < 2:
                    kind = ["query", "T" * (len(rows[0]) if rows else 1)]
                new = [" ".join(kind)] + sql_lines + ["----"]
                listed = rows or []
                if "rowsort" in kind:
                    listed = sorted(listed)
                elif "valuesort" in kind:
                    listed = [[v] for v in sorted(v for row in listed for v in row)]
                new += [" ".join(row) for row in listed]
            elif words[1] == "error":
                new = ["statement ok"] + sql_lines
            else:
                new = [header] + sql_lines
            edits.append((header_index, end, new))
            continue
        problem = None
        if words[0] == "statement" and words[1] == "ok":
            if error:
                problem = f"expected ok, got {error}"
        elif words[0] == "statement" and words[1] == "count":
            if error or count != int(words[2]):
                problem = f"expected count {words[2]}, got {error or count}"
        elif words[1] == "error":
            pattern = header.split(None, 2)[2] if len(words) > 2 else ""
            if not error:
                problem = f"expected error {pattern}, got ok"
            elif not re.search(pattern, error):
                problem = f"expected error {pattern}, got {error}"
        elif words[0] == "query":
            if error:
                problem = f"expected rows, got {error}"
            else:
                got = rows or []
                if "valuesort" in words:
                    got = [[v] for v in sorted(v for row in got for v in row)]
                    expected = sorted(v for line in expected for v in line.split())
                    got = [" ".join(row) for row in got]
                else:
                    got = [" ".join(row) for row in got]
                    expected = [" ".join(e.split()) for e in expected]
                    if "rowsort" in words:
                        got, expected = sorted(got), sorted(expected)
                if got != expected:
                    problem = f"expected {expected}, got {got}"
        if problem:
            failures += 1
            print(f"{path}:{line}: [{name}] {sql!r}: {problem}")
    for conn in connections.values():
        conn.close()
    if complete:
        for start, end, new in reversed(edits):
            source[start:end] = new
        open(path, "w").write("\n".join(source))
    return failures


def main(dsn, paths, complete=False):
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    failures = 0
    for number, path in enumerate(paths):
        database = f"slt_differential_{number}"
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
            cursor.execute(f"CREATE DATABASE {database}")
        try:
            failures += run_file(dsn, database, path, complete)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "--complete":
        sys.exit(main(sys.argv[2], sys.argv[3:], complete=True))
    sys.exit(main(sys.argv[1], sys.argv[2:]))
