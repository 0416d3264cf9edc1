"""The folder tree is the architecture: one notebook, one package, one registry row per lesson; no import cycles.

These checks read files only (nothing is imported but the registry), so they hold for any change.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from labkit.course.registry import LESSONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labkit"
MAX_LINES = 400


def _notebooks() -> set[str]:
    return {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")}


def _lesson_packages() -> set[str]:
    return {p.name for p in (PACKAGE / "lessons").iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def test_every_notebook_has_a_registry_row_and_a_package_and_no_more():
    assert {lesson.slug for lesson in LESSONS} == _notebooks()
    assert {lesson.package for lesson in LESSONS} == _lesson_packages()
    for lesson in LESSONS:
        assert lesson.slug.startswith(lesson.number + "-"), lesson
        assert (PACKAGE / "lessons" / lesson.package / "checks.py").exists(), f"{lesson.package} has no checks.py"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The labkit modules ``path`` imports, anywhere in it (a function-level import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_in_labkit():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_helpers_never_import_views_and_lessons_import_earlier_lessons_only():
    graph = _graph()
    for module, imported in graph.items():
        if module.startswith(("labkit.aws", "labkit.backends", "labkit.course")):
            views = {m for m in imported if m.startswith(("labkit.widgets", "labkit.lessons"))}
            assert not views, f"{module} (shared code) imports {views}"
        match = re.match(r"labkit\.lessons\.l(\d\d)_", module)
        for other in imported:
            theirs = re.match(r"labkit\.lessons\.l(\d\d)_", other)
            if match and theirs:
                assert theirs.group(1) <= match.group(1), f"lesson {match.group(1)} imports a later lesson: {other}"


def test_no_module_is_long_without_saying_why():
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines <= MAX_LINES or "long because" in doc, f"{path.relative_to(ROOT)}: {lines} lines"


def test_three_modules_start_processes():
    """servers.py starts every server. Two modules that run inside a server (the servers' Python, where
    labkit and so servers.py cannot be imported) start processes in the very call that needs them:
    rds_engine.py the RDS instances' PostgreSQL engines (in MiniStack), instances.py the instances' user data
    (in moto), and through its spawn_group the Beanstalk environments' apps too (beanstalk.py, in moto: one
    way to start, mark and end such a group); their records let `labkit down` (servers.py's side) stop what
    they started."""
    starters = sorted(
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if re.search(r"subprocess\.Popen\(|start_new_session=True", p.read_text())
    )
    assert starters == [
        "labkit/backends/embedded/instances.py",
        "labkit/backends/embedded/rds_engine.py",
        "labkit/backends/servers.py",
    ], starters


def test_the_backend_is_decided_in_one_place():
    """No module outside labkit/backends branches on a backend's name."""
    pattern = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](embedded|localstack|aws)["']""")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in PACKAGE.rglob("*.py")
        if "backends" not in p.parts
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], offenders


def test_each_lessons_title_and_time_come_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    for lesson in LESSONS:
        row = re.search(
            rf"^\| {lesson.number} \| \[([^\]]+)\]\(notebooks/{lesson.notebook}\) \|.*\| (\d+) min \|$", readme, re.M
        )
        assert row, f"README has no course-table row for {lesson.slug}"
        assert (row.group(1), int(row.group(2))) == (lesson.title, lesson.minutes), lesson.slug
        notebook = (ROOT / "notebooks" / lesson.notebook).read_text()
        assert f"Time:** about {lesson.minutes} minutes" in notebook, f"{lesson.notebook} states another time"
