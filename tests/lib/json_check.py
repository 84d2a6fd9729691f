#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that a file holds JSON objects, one per line, as the tools'
--json prints them, with a strict parser: NaN, Infinity and -Infinity are
not JSON, though Python's json module accepts them by default.

    json_check.py FILE [PATH:KIND ...]

Each PATH (keys joined by dots, list indexes as numbers) must exist in
every object and be of KIND: number, integer, null, string, list, object,
bool.  Prints nothing and exits 0 if all holds, else says why and exits 1.
"""
import json
import sys

KINDS = {
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "null": lambda v: v is None,
    "string": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "bool": lambda v: isinstance(v, bool),
}


def refuse(name):
    raise ValueError(f"{name} is not JSON")


def lookup(obj, path):
    for key in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(key)]
        else:
            obj = obj[key]
    return obj


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    if not lines:
        sys.exit(f"{sys.argv[1]}: no output")
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line, parse_constant=refuse)
        except ValueError as e:
            sys.exit(f"{sys.argv[1]} line {n}: {e}: {line[:200]}")
        if not isinstance(obj, dict):
            sys.exit(f"{sys.argv[1]} line {n}: not an object")
        for spec in sys.argv[2:]:
            path, kind = spec.rsplit(":", 1)
            try:
                value = lookup(obj, path)
            except (KeyError, IndexError, ValueError, TypeError):
                sys.exit(f"{sys.argv[1]} line {n}: no {path}")
            if not KINDS[kind](value):
                sys.exit(f"{sys.argv[1]} line {n}: {path} is {value!r}, "
                         f"not {kind}")


if __name__ == "__main__":
    main()
