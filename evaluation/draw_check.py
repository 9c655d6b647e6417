"""Recompute a published expert draw offline: ``python -m evaluation.draw_check RECORD.json``.

No database, no network, no Django: it reads the record (GET /api/tenders/{id}/draw) and recomputes the
candidates' hash, the reveals against their commitments, the seed, the order, the invited and every redraw.
Exit 0 when everything matches; 1 naming the first mismatch; 2 when the file cannot be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from evaluation.draw import verify_record


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m evaluation.draw_check RECORD.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args[0]}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(record, dict):
        print("mismatch: the record is not a JSON object")
        return 1
    result = verify_record(record)
    if not result.ok:
        print(f"mismatch: {result.problem}")
        return 1
    print(f"ok: draw of tender {record['tender']} recomputed, seed {record['seed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
