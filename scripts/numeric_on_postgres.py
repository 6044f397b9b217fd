#!/usr/bin/env python3
"""Regenerates tests/numeric_expected.tsv: PostgreSQL's results for `numeric`
arithmetic on 10,000 random operand triples, for a Rust test to compare
basalt's against.

    scripts/numeric_on_postgres.py "host=/tmp/pgnum port=5496 user=postgres dbname=postgres" \\
        > tests/numeric_expected.tsv

The triples (a, b, k) come from random.Random(20261207), so the operands are
the same on every run and only the server decides the results. They are
plain decimal literals (no exponent, no leading zeros, no negative zero, so
each one is also PostgreSQL's text output of itself, which is checked):
integers and 1-6 decimal places, magnitudes from 1e-12 to 1e25, about 5%
with 30-40 significant digits, about half negative, some exact rounding ties
(x.xx5, often with k = its scale - 1), `a` sometimes zero (with scale), `b`
never zero. k is an integer in -3..8.

All triples go into a temporary table in one batch and come back in a single
SELECT, computing, as PostgreSQL's text output:

    a + b, a - b, a * b, a / b, a % b, div(a, b),
    round(a / b, k), trunc(a * b, k), round(a, k)

Output: one header line starting with `#` (this script, the seed, the
server's version), then one tab-separated line per triple:
`a  b  k` followed by the nine results in that order.
"""
import random
import sys

import psycopg2
import psycopg2.extensions
import psycopg2.extras

SEED = 20261207
COUNT = 10_000
EXPRESSIONS = [
    "a + b",
    "a - b",
    "a * b",
    "a / b",
    "a % b",
    "div(a, b)",
    "round(a / b, k)",
    "trunc(a * b, k)",
    "round(a, k)",
]

# numeric (and int4, for k) as PostgreSQL's own text output, not Python values.
for oid in (23, 1700):
    psycopg2.extensions.register_type(
        psycopg2.extensions.new_type((oid,), f"TEXT{oid}", lambda value, cursor: value)
    )


def digits(rng, n, first_nonzero=True):
    """n random decimal digits, the first one nonzero if asked."""
    out = [str(rng.randint(1, 9))] if first_nonzero and n > 0 else []
    while len(out) < n:
        out.append(str(rng.randint(0, 9)))
    return "".join(out)


def literal(integer, fraction):
    """The canonical literal of integer part and fraction digits (unsigned)."""
    integer = integer.lstrip("0") or "0"
    return f"{integer}.{fraction}" if fraction else integer


def is_zero(text):
    return set(text) <= set("0.")


def operand(rng):
    """An unsigned operand literal and whether it is a rounding tie x.xx5."""
    kind = rng.random()
    if kind < 0.05:
        # 30-40 significant digits, anywhere from all integer to all fraction.
        n = rng.randint(30, 40)
        significant = digits(rng, n)
        scale = rng.randint(0, n + rng.choice([0, 0, 0, 3]))
        if scale <= n:
            return literal(significant[: n - scale], significant[n - scale :]), False
        return literal("", "0" * (scale - n) + significant), False
    if kind < 0.13:
        # An exact tie: the last decimal digit is 5.
        integer = str(rng.randint(0, 10 ** rng.choice([0, 1, 2, 3, 6])))
        scale = rng.randint(1, 6)
        return literal(integer, digits(rng, scale - 1, False) + "5"), True
    if kind < 0.21:
        # Small: 1e-12 .. 1e-1, 1-6 significant digits.
        exponent = rng.randint(1, 12)
        return literal("", "0" * (exponent - 1) + digits(rng, rng.randint(1, 6))), False
    if kind < 0.29:
        # Large: 1e15 .. 1e25, integer or a few decimals.
        integer = digits(rng, rng.randint(16, 26))
        return literal(integer, digits(rng, rng.choice([0, 0, 0, 1, 2, 4]), False)), False
    if kind < 0.37:
        # Round values, which make exact quotients and ties of a / b.
        return rng.choice(
            ["1", "2", "3", "4", "5", "7", "8", "10", "100", "1000",
             "0.5", "0.25", "0.2", "0.1", "1.5", "2.50", "1.000", "0.01"]
        ), False
    # Ordinary: up to 1e9, integer or 1-6 decimals (trailing zeros kept).
    integer = digits(rng, rng.randint(1, 9))
    scale = rng.choice([0, 0, 1, 2, 2, 3, 4, 5, 6])
    return literal(integer, digits(rng, scale, False)), False


def signed(rng, text):
    return "-" + text if not is_zero(text) and rng.random() < 0.5 else text


def triples(rng, count):
    for _ in range(count):
        if rng.random() < 0.04:
            a, tie = rng.choice(["0", "0", "0", "0.0", "0.00", "0.000000"]), False
        else:
            a, tie = operand(rng)
            a = signed(rng, a)
        b = "0"
        while is_zero(b):
            b, _ = operand(rng)
        b = signed(rng, b)
        if tie and rng.random() < 0.6:
            k = len(a.split(".")[1]) - 1  # round(a, k) lands on the tie
        else:
            k = rng.randint(-3, 8)
        yield a, b, k


def main(dsn):
    rng = random.Random(SEED)
    rows = [(i, a, b, k) for i, (a, b, k) in enumerate(triples(rng, COUNT))]
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("CREATE TEMP TABLE numeric_cases (id int, a numeric, b numeric, k int)")
        psycopg2.extras.execute_values(
            cursor,
            "INSERT INTO numeric_cases VALUES %s",
            rows,
            template="(%s, %s::numeric, %s::numeric, %s)",
            page_size=COUNT,
        )
        cursor.execute(
            f"SELECT a, b, k, {', '.join(EXPRESSIONS)} FROM numeric_cases ORDER BY id"
        )
        results = cursor.fetchall()
    conn.rollback()
    conn.close()
    assert len(results) == len(rows)
    out = sys.stdout
    out.write(
        f"# Generated by scripts/numeric_on_postgres.py (random.Random({SEED}), "
        f"{COUNT} triples) on PostgreSQL {version}. Columns: a, b, k, "
        f"{', '.join(EXPRESSIONS)}\n"
    )
    for (_, a, b, k), result in zip(rows, results):
        # The literals are canonical: PostgreSQL prints them back unchanged.
        assert result[:3] == (a, b, str(k)), (a, b, k, result[:3])
        out.write("\t".join([a, b, str(k), *result[3:]]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
