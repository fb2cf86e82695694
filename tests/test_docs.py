"""The docs in the repository stay true to it.

- docs/reliability.md has rows 1-62, and every test it names exists (a test that moves
  must be renamed there too: this file is what notices);
- README.md stays short and holds the two Quickstart commands exactly;
- code and docs cite only files in the repository;
- every relative link in README.md and docs/*.md points to a file that exists.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RELIABILITY = DOCS / "reliability.md"

QUICKSTART = (
    "pip install -e . && microinit demo",
    'pip install -e ".[test]" && pytest',
)
README_MAX_LINES = 250

# A table row of docs/reliability.md: "| 17 | fault | behaviour | test(s) |".
ROW = re.compile(r"^\|\s*(\d+)\s*\|")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
# [text](target) and ![alt](target); the target ends at whitespace or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _reliability_rows():
    """Map row number -> the table line, for every numbered row of the table."""
    rows = {}
    for line in RELIABILITY.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            n = int(m.group(1))
            assert n not in rows, f"docs/reliability.md: row {n} appears twice"
            rows[n] = line
    return rows


def _test_refs():
    refs = []
    for n, line in sorted(_reliability_rows().items()):
        refs.extend((n, path, name) for path, name in TEST_REF.findall(line))
    return refs


def _functions_defined(path):
    """Names of the test functions a file defines (module level or in a class)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_reliability_table_has_rows_1_to_62():
    rows = _reliability_rows()
    assert sorted(rows) == list(range(1, 63))
    for n, line in rows.items():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"row {n} should have 4 cells (#, fault, behaviour, test): {line}"
        test_cell = cells[-1]
        assert test_cell == "—" or TEST_REF.search(test_cell), (
            f"row {n}: the test cell must name tests as `tests/x.py::test_y` or be '—', "
            f"got {test_cell!r}")


def test_reliability_table_names_tests():
    # Not vacuous: most rows are pinned by a test today.
    assert len({n for n, _, _ in _test_refs()}) >= 45


@pytest.mark.parametrize("row, path, name", _test_refs(),
                         ids=[f"row{n}-{name}" for n, _, name in _test_refs()])
def test_reliability_reference_exists(row, path, name):
    file = ROOT / path
    assert file.is_file(), f"docs/reliability.md row {row}: {path} does not exist"
    assert name in _functions_defined(file), (
        f"docs/reliability.md row {row}: {path} defines no function {name}")


def test_readme_is_short_and_has_the_quickstart_commands():
    text = README.read_text(encoding="utf-8")
    n_lines = len(text.splitlines())
    assert n_lines <= README_MAX_LINES, f"README.md has {n_lines} lines (at most {README_MAX_LINES})"
    lines = [line.strip() for line in text.splitlines()]
    for command in QUICKSTART:
        assert command in lines, f"README.md lacks the Quickstart line {command!r}"


def _citations_of_missing_files(paths):
    """Lines citing RELIABILITY.md or DESIGN.md, which are not in the repository."""
    offenders = []
    for path in paths:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "RELIABILITY" in line or "DESIGN.md" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{i}")
    return offenders


def test_docs_cite_only_files_in_the_repository():
    offenders = _citations_of_missing_files([README, *sorted(DOCS.glob("*.md"))])
    assert not offenders, "cite docs/reliability.md or docs/design.md instead:\n" + "\n".join(offenders)


def test_code_cites_only_files_in_the_repository():
    sources = []
    for folder in ("microinit", "tests", "benchmarks"):
        for pattern in ("*.py", "*.pyx", "*.pxd", "*.h"):
            sources.extend(p for p in sorted((ROOT / folder).rglob(pattern)) if p.name != "test_docs.py")
    offenders = _citations_of_missing_files(sources)
    assert not offenders, "cite docs/reliability.md or docs/design.md instead:\n" + "\n".join(offenders)


def _markdown_files():
    return [README, *sorted(DOCS.glob("*.md"))]


def _without_code_blocks(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _anchors(md):
    """GitHub's anchors for the headings of a markdown file: lower case, punctuation
    dropped, spaces made hyphens."""
    anchors = set()
    for line in _without_code_blocks(md.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            anchors.add(re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("md", _markdown_files(), ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(md):
    # Links inside code blocks are code, not links.
    text = _without_code_blocks(md.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto: ...
        path, _, anchor = target.partition("#")
        file = (md.parent / path).resolve() if path else md
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{md.relative_to(ROOT)} links to missing files or headings: {broken}"


def test_anchors_follow_github():
    md = DOCS / "benchmarks.md"
    assert "initializers-vs-torchnninit" in _anchors(md)
    assert "history-the-issue-6-run-2026-11-22" in _anchors(md)


def test_link_pattern_finds_links():
    # The link check above is only as good as its pattern.
    found = LINK.findall('see [a](docs/x.md), ![img](docs/p.png "t") and [w](https://e.org#f)')
    assert found == ["docs/x.md", "docs/p.png", "https://e.org#f"]
