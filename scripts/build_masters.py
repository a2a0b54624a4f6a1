#!/usr/bin/env python3
"""Build config/masters/countries.csv and config/masters/currencies.csv from pycountry.

- countries.csv: header ``code,name``; every ISO 3166-1 alpha-2 code (ExpDtls.CntCode, error 2202;
  ItemList[].OrgCntry), name = pycountry's ISO name.
- currencies.csv: header ``code,name``; every ISO 4217 alphabetic code in pycountry's current
  (active) list (ExpDtls.ForCur, error 2203), name = pycountry's ISO name.

Both UTF-8, LF, RFC 4180 quoting, sorted by code; the output is deterministic for a given pycountry
version. ``pip install pycountry`` is needed only to rebuild these files, never to build or test
the engine. The other masters (states.csv, uqc.csv, pin_ranges.csv, ports.csv) are hand-kept
data files: see config/masters/README.md for their sources.

Usage (from anywhere): python3 scripts/build_masters.py [--out-dir DIR]
"""

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "config" / "masters"


NIC_LEGACY_CURRENCIES = [
    ("ANG", "Netherlands Antillean guilder (withdrawn; still in NIC's list)"),
    ("BGN", "Bulgarian lev (withdrawn; still in NIC's list)"),
    ("CUC", "Cuban convertible peso (withdrawn; still in NIC's list)"),
    ("HRK", "Croatian kuna (withdrawn; still in NIC's list)"),
    ("SLL", "Sierra Leonean leone (old; still in NIC's list)"),
    ("ZWL", "Zimbabwean dollar (withdrawn; still in NIC's list)"),
]


def write(path: Path, rows) -> int:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["code", "name"])
    n = 0
    for code, name in sorted(rows):
        w.writerow([code, " ".join(name.split())])
        n += 1
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=str(DEFAULT_DIR))
    args = ap.parse_args()
    try:
        import pycountry
    except ImportError:
        sys.exit("pycountry is not installed: pip install pycountry (needed only to rebuild)")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    countries = [(c.alpha_2, c.name) for c in pycountry.countries]
    currencies = [(c.alpha_3, c.name) for c in pycountry.currencies]
    # Withdrawn codes that NIC's currency master (as copied by india-compliance) still lists:
    # exporters' ERPs still send them, so they stay valid here.
    known = {code for code, _ in currencies}
    for code, name in NIC_LEGACY_CURRENCIES:
        if code not in known:
            currencies.append((code, name))
    for label, rows, length in (("country", countries, 2), ("currency", currencies, 3)):
        codes = [code for code, _ in rows]
        if len(set(codes)) != len(codes):
            sys.exit(f"duplicate {label} codes")
        bad = [c for c in codes if len(c) != length or not c.isascii() or not c.isupper()]
        if bad:
            sys.exit(f"unexpected {label} codes: {bad}")

    version = getattr(pycountry, "__version__", "n/a")
    n_c = write(out / "countries.csv", countries)
    n_k = write(out / "currencies.csv", currencies)
    print(f"pycountry {version}")
    print(f"countries.csv  {n_c:4}")
    print(f"currencies.csv {n_k:4}")


if __name__ == "__main__":
    main()
