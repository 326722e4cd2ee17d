"""Only the adapter talks to the Automation API: every other module of the tool is pure or plain I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cutover"


def pulumi_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return [n for n in names if n == "pulumi" or n.startswith("pulumi.")]


def test_workspace_py_is_the_only_module_that_imports_pulumi():
    importing = {path.name: pulumi_imports(path) for path in sorted(PACKAGE.glob("*.py")) if pulumi_imports(path)}
    assert list(importing) == ["workspace.py"]
    assert "pulumi.automation.errors" in importing["workspace.py"]


def test_the_command_line_loads_without_the_sdk_until_it_opens_a_stack():
    code = ("import sys, cutover.cli, cutover.drive, cutover.commands, cutover.notify, cutover.status; "
            "print(sorted(m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, check=True)
    assert loaded.stdout.strip() == "[]"
