"""Formats `tq eval --json` lines (stdin, each prefixed by a label and a TAB)
as a table, with the change in top-1 against the first (float) row."""
import json
import sys

rows = []
for line in sys.stdin:
    if not line.strip():
        continue
    label, _, text = line.partition("\t")
    rows.append((label, json.loads(text)))
base = rows[0][1]["top1"] if rows else 0.0
print("%-44s%9s%9s%9s%10s" % ("configuration", "top-1", "top-5", "loss", "vs float"))
for label, r in rows:
    print("%-44s%8.2f%%%8.2f%%%9.4f%+9.2f" % (
        label, 100 * r["top1"], 100 * r["top5"], r["loss"],
        100 * (r["top1"] - base)))
