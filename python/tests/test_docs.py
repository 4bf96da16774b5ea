"""Every ```python block of docs/python.md runs, in order, in one
namespace, in a scratch directory that has the repository's models/."""
import os
import re

import pytest

from conftest import ROOT

DOC = os.path.join(ROOT, "docs", "python.md")


def blocks():
    text = open(DOC, encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_docs_python_blocks_run(tmp_path, monkeypatch, fashion_mnist):
    pytest.importorskip("torch")
    os.symlink(os.path.join(ROOT, "models"), tmp_path / "models")
    monkeypatch.chdir(tmp_path)
    code = blocks()
    assert len(code) >= 6
    namespace = {"__name__": "docs_python"}
    for i, block in enumerate(code):
        try:
            exec(compile(block, f"{DOC}:block{i + 1}", "exec"), namespace)
        except Exception as e:  # say which block
            raise AssertionError(f"docs/python.md block {i + 1} failed: {e!r}") from e
    assert (tmp_path / "search.html").stat().st_size > 1000
    assert (tmp_path / "lenet-w8.onnx").exists()
