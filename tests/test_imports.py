"""What importing the package costs: the light entry points load no heavy dependency until it is used.

``import harness`` resolves its public names on first use (PEP 562); the wire encodings, body anatomy and
the load package need only the standard library; the pytest11 plugin, which every pytest run on a
machine with the package installed loads, imports only pytest until a session runs contract tests; the
CLI never imports Locust (``capture-harness load`` runs it in a subprocess).  Each check runs in a fresh
interpreter and reads ``sys.modules``: the only proof that nothing was imported along the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("hypothesis", "jsonschema", "referencing", "jsonschema_rs", "locust", "gevent")
"""Dependencies a light import must not load: Hypothesis, the validators, Locust and its gevent."""

LOADED = "sorted({name.split('.')[0] for name in sys.modules} & set(json.loads(sys.argv[1])))"
"""Python text: which of the packages named by the first argument this interpreter has imported."""


def _loaded_after(statement: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps({LOADED}))"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(watched)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", ["harness", "harness.wire", "harness.spec.body", "harness.load",
                                    "harness.contract", "harness.contract.plugin", "harness.apptest",
                                    "harness.apptest.fixtures", "harness.apptest.endpoint"])
def test_light_modules_import_no_heavy_dependency(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_the_cli_never_imports_locust() -> None:
    assert _loaded_after("import harness.cli", ("locust", "gevent")) == []


def test_the_public_names_are_all_and_each_resolves() -> None:
    # in a fresh interpreter: dir() before anything was resolved, then every name of __all__ resolved
    code = textwrap.dedent("""
        import harness, json, types
        def defined_here(name):
            value = getattr(harness, name)
            return not isinstance(value, types.ModuleType) and getattr(value, "__module__", "").startswith("harness.")
        public = sorted(name for name in dir(harness) if not name.startswith("_"))
        resolved = {name: getattr(harness, name).__module__ for name in harness.__all__}
        print(json.dumps([public, harness.__all__, sorted(filter(defined_here, public)), resolved]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    public, exported, defined, resolved = json.loads(done.stdout)
    assert exported == sorted(set(exported)), "__all__ is sorted, without repeats"
    assert set(exported) <= set(public)  # every exported name is listed by dir()
    assert defined == exported  # and every harness-defined public name of dir() is exported
    assert set(resolved) == set(exported)


CONFTEST = """
import json, sys

def pytest_sessionfinish(session):
    plugins = session.config.pluginmanager
    report = {{
        "plugin": plugins.hasplugin("harness.contract.plugin"),
        "options": session.config.getoption("capture_timeout"),
        "reporting": plugins.get_plugin("capture-harness-session") is not None,
        "loaded": sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r})),
        "harness": sorted(name for name in sys.modules if name.startswith("harness")),
    }}
    (session.config.rootpath / "report.json").write_text(json.dumps(report))
"""


SUITE_MACHINERY = ("harness.contract.", "harness.generate", "harness.server", "harness.load")
"""What a contract session loads and a plain one must not (the plugin module itself aside)."""


@pytest.mark.parametrize("mode", [("--co",), ()], ids=["collect-only", "run"])
def test_a_plain_pytest_session_with_the_plugin_stays_light(tmp_path: Path, mode: tuple[str, ...]) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST.format(heavy=HEAVY))
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only the plugin named below
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "harness.contract.plugin", *mode,
               "test_plain.py"]
    done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["plugin"] and report["options"] == 30.0  # loaded, with its options
    assert report["loaded"] == []
    assert report["reporting"] is False and "capture-harness contract summary" not in done.stdout
    machinery = [name for name in report["harness"] if name.startswith(SUITE_MACHINERY)]
    assert machinery == ["harness.contract.plugin"]  # no reporting, cases, client, generators or server
