"""tq.search(formats=...): the search over formats of `tq search
--formats`, the same map and document; records carry the cost in bits per
element with the scale overhead, steps the Pareto front."""
import json

import tensorquant as tq
from conftest import LENET, document

OPTS = dict(limit=300, batch=100, progress=False)


def test_search_formats_as_the_tool(fashion_mnist, run_tq, tmp_path):
    out = tmp_path / "map.json"
    want = run_tq("search", LENET, "--data", fashion_mnist, "--limit", 300,
                  "--batch", 100, "-q", "--budget", 2, "--what", "weights",
                  "--formats", "mx", "-o", out, "--json", check=False)
    for formats in ("mx", "mxfp8e4m3;mxfp6e3m2;mxfp6e2m3;mxfp4",
                    ["mxfp8e4m3", "mxfp6e3m2", "mxfp6e2m3", "mxfp4"]):
        r = tq.search(LENET, fashion_mnist, budget=2, what="weights",
                      formats=formats, **OPTS)
        assert r.map == json.loads(out.read_text())
        assert document(r.document) == document(want)
        for rec in r:
            assert rec["cost_bits"] in (8.25, 6.25, 4.25)
            assert rec["candidate_cost_bits"] == [8.25, 6.25, 4.25]
        assert any(s["pareto"] for s in r.steps)


def test_search_formats_refuses_a_family(fashion_mnist):
    import pytest
    with pytest.raises(ValueError, match="replaces family"):
        tq.search(LENET, fashion_mnist, budget=1, formats="mx",
                  family="even", **OPTS)
