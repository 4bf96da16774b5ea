"""Formats `tq quantize --json` lines (stdin) as a table."""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
head = ("spec", "SQNR dB", "max |err|", "mean |err|", "saturated", "zero", "distinct")
print("%-28s%9s%12s%12s%11s%9s%10s" % head)
for r in rows:
    sq = r["sqnr_db"]
    sq = {"inf": "exact", "-inf": "-inf"}.get(sq) if isinstance(sq, str) else "%.2f" % sq
    print("%-28s%9s%12.4g%12.4g%10.3f%%%8.2f%%%10d" % (
        r["spec"], sq, r["max_abs_error"], r["mean_abs_error"],
        100 * r["frac_saturated"], 100 * r["frac_zero"], r["distinct_values"]))
