"""The documentation stays true to the code: the module map of docs/architecture.md names every
package and top-level module and nothing that is gone, every relative link of the README and
docs/ reaches a file (and, with an anchor, one of its headings), and the README stays a front
page."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from settings import PROJECT_ROOT
from tests.helpers.markdown import heading_anchors, prose_lines

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
# The README is a front page; everything else lives in docs/.
README_MAX_LINES = 200

# Directories that hold no project code: the virtualenv, data, caches, build output.
NOT_PROJECT = {"build", "dist", "node_modules", "__pycache__"}
# A module map row: `| `dotted.name` | what it holds |`.
MAP_ROW = re.compile(r"^\| `([A-Za-z_][\w.]*)` \|", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")


def module_map(text: str) -> list[str]:
    """The dotted names in the first column of the module map (the `## Module map` section)."""
    section = text.split("\n## Module map\n", 1)[1].split("\n## ", 1)[0]
    return MAP_ROW.findall(section)


def is_project_dir(relative: Path) -> bool:
    return not any(
        part.startswith(".") or part in NOT_PROJECT or part.endswith(".egg-info")
        for part in relative.parts
    )


def packages_and_modules(root: Path) -> set[str]:
    """Every package (a directory with `__init__.py`) and every package and top-level module
    pyproject.toml's `[tool.setuptools]` ships."""
    names = {
        ".".join(init.parent.relative_to(root).parts)
        for init in root.rglob("__init__.py")
        if init.parent != root and is_project_dir(init.parent.relative_to(root))
    }
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    return names | set(setuptools.get("packages", [])) | set(setuptools.get("py-modules", []))


def exists(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def missing_from_map(root: Path, listed: list[str]) -> set[str]:
    return packages_and_modules(root) - set(listed)


def gone_from_code(root: Path, listed: list[str]) -> set[str]:
    return {name for name in listed if not exists(root, name)}


def test_the_module_map_names_every_package_and_top_level_module():
    assert missing_from_map(PROJECT_ROOT, module_map(ARCHITECTURE.read_text())) == set()


def unlisted_modules(root: Path, listed: list[str]) -> set[str]:
    """Modules of a package the map lists module by module (it has a `package.module` row)
    that have no row of their own."""
    detailed = {
        name.rsplit(".", 1)[0]
        for name in listed
        if "." in name and root.joinpath(*name.split(".")).with_suffix(".py").is_file()
    }
    return {
        f"{package}.{module.stem}"
        for package in detailed
        if (root.joinpath(*package.split(".")) / "__init__.py").is_file()
        for module in root.joinpath(*package.split(".")).glob("*.py")
        if not module.stem.startswith("_")
    } - set(listed)


def test_a_package_listed_module_by_module_lists_every_module():
    assert unlisted_modules(PROJECT_ROOT, module_map(ARCHITECTURE.read_text())) == set()


def test_the_module_map_names_nothing_that_is_gone():
    listed = module_map(ARCHITECTURE.read_text())
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert gone_from_code(PROJECT_ROOT, listed) == set()


def test_the_module_map_check_catches_a_missing_and_a_gone_module(tmp_path: Path):
    for package in ("claims", "claims/routes", ".venv/lib/site", "claims.egg-info/x"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "claims" / "state.py").write_text("")
    (tmp_path / "worker.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackages = ["claims", "extra"]\npy-modules = ["worker"]\n'
    )
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "__init__.py").write_text("")
    text = (
        "# Architecture\n\n## Module map\n\n| module | what |\n|---|---|\n"
        "| `claims` | the claims |\n| `claims.state` | state |\n| `extra` | more |\n"
        "| `worker` | the worker |\n| `claims.gone` | once |\n\n## Layering\n\n| `ignored` | x |\n"
    )
    listed = module_map(text)
    assert listed == ["claims", "claims.state", "extra", "worker", "claims.gone"]
    assert missing_from_map(tmp_path, listed) == {"claims.routes"}
    assert gone_from_code(tmp_path, listed) == {"claims.gone"}
    assert missing_from_map(tmp_path, [*listed, "claims.routes"]) == set()


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def reaches(source: Path, target: str) -> bool:
    """Whether a link of `source` reaches a file, and with an anchor a heading of that file."""
    file, _, anchor = target.partition("#")
    linked = (source.parent / file).resolve() if file else source
    if not linked.exists():
        return False
    return not anchor or (linked.suffix == ".md" and anchor in heading_anchors(linked.read_text()))


def broken_links(path: Path) -> list[str]:
    """The relative links of a Markdown file (outside code) that reach nothing."""
    return [
        target
        for line in prose_lines(path.read_text())
        for target in LINK.findall(CODE_SPAN.sub("", line))
        # http:, https:, mailto: ... are not checked.
        if not re.match(r"^[a-z][a-z+.-]*:", target) and not reaches(path, target)
    ]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_reaches_a_file_and_a_heading(path: Path):
    assert broken_links(path) == []


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ops.md").write_text(
        "# Ops\n\n```sh\n# not a heading\n```\n\n## Chaos: `make chaos`\n\n## Alerts\n\n## Alerts\n"
    )
    assert heading_anchors((tmp_path / "docs" / "ops.md").read_text()) == {
        "ops",
        "chaos-make-chaos",
        "alerts",
        "alerts-1",
    }
    (tmp_path / "README.md").write_text(
        "See [chaos](docs/ops.md#chaos-make-chaos), [the second](docs/ops.md#alerts-1),\n"
        "[the site](https://example.com/x#y) and `[code](nowhere.md)`; but not\n"
        "[gone](docs/gone.md), [no heading](docs/ops.md#not-a-heading) or [here](#nothing).\n"
        "```\n[fenced](nowhere.md)\n```\n"
    )
    assert broken_links(tmp_path / "README.md") == [
        "docs/gone.md",
        "docs/ops.md#not-a-heading",
        "#nothing",
    ]


def test_the_readme_is_a_front_page():
    assert len(README.read_text().splitlines()) <= README_MAX_LINES
