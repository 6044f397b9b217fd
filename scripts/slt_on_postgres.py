#!/usr/bin/env python3
"""Runs our sqllogictest files against a PostgreSQL server, to check that
their expected outcomes are PostgreSQL's.

    scripts/slt_on_postgres.py "host=/tmp/pg port=5432 user=postgres" sqllogictest/anomalies.slt

Understands the subset our files use: `statement ok`, `statement error
<regex>`, `statement count <n>`, `query <types> [rowsort]` with `----`
results, and `connection <name>` (one connection per name, autocommit, so
BEGIN and COMMIT are sent as written). Errors are matched as
"<SQLSTATE> <message>", as tests/sqllogictest.rs formats them. Prints each
mismatch and exits non-zero if there was one.
"""
import re
import sys

import psycopg2


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
    if value is True:
        return "t"
    if value is False:
        return "f"
    value = str(value)
    return value if value else "(empty)"


def main(dsn, paths):
    failures = 0
    for path in paths:
        connections = {}

        def connection(name):
            if name not in connections:
                conn = psycopg2.connect(dsn)
                conn.autocommit = True
                connections[name] = conn
            return connections[name]

        for line, block in records(path):
            name = "default"
            if block[0].startswith("connection "):
                name = block[0].split()[1]
                block = block[1:]
            header, rest = block[0], block[1:]
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
                    rows = [" ".join(text(v) for v in row) for row in cursor.fetchall()]
            except psycopg2.Error as e:
                error = f"{e.pgcode} {e.diag.message_primary or ''}"
            words = header.split()
            problem = None
            if words[0] == "statement" and words[1] == "ok":
                if error:
                    problem = f"expected ok, got {error}"
            elif words[0] == "statement" and words[1] == "count":
                if error or count != int(words[2]):
                    problem = f"expected count {words[2]}, got {error or count}"
            elif words[0] == "statement" and words[1] == "error":
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
                    if "rowsort" in words:
                        got, expected = sorted(got), sorted(expected)
                    if got != expected:
                        problem = f"expected {expected}, got {got}"
            if problem:
                failures += 1
                print(f"{path}:{line}: [{name}] {sql!r}: {problem}")
        for conn in connections.values():
            conn.close()
    print(f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
