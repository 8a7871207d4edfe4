"""``import avatars`` stays light: heavy or optional modules load only when used.

Each check runs a fresh interpreter (a subprocess) and reads its ``sys.modules``;
nothing here is timed (benchmarks/bench_import.py measures the cost).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Dict

import pytest

#: Never imported by ``import avatars``: optional extras, the local server,
#: the schema layer (marshmallow is imported with the first response loaded),
#: and what only object storage's answers and parallel parts need.
NOT_ON_IMPORT = [
    "xml.etree.ElementTree",
    "concurrent.futures",
    "werkzeug",
    "tqdm",
    "pandas",
    "yaml",
    "avatars.testing",
    "marshmallow",
    "avatars.schemas",
    "avatars.manager",
    "avatars.runner",
]


def _modules_after(code: str) -> Dict[str, bool]:
    script = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {NOT_ON_IMPORT!r}}}))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    loaded: Dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_import_avatars_loads_nothing_heavy() -> None:
    loaded = _modules_after("import avatars")
    assert [name for name, present in loaded.items() if present] == []


def test_creating_a_client_loads_nothing_heavy() -> None:
    loaded = _modules_after("from avatars import ApiClient\nApiClient('https://avatar.test/api', api_key='k')")
    assert [name for name, present in loaded.items() if present] == []


@pytest.mark.parametrize("name", ["Manager", "Runner"])
def test_lazy_names_still_import(name: str) -> None:
    code = f"import avatars\nfrom avatars import {name}\nassert {name}.__name__ == {name!r}\nimport avatars.manager"
    loaded = _modules_after(code)
    assert loaded["avatars.manager"] and loaded["avatars.runner"]
    assert not loaded["werkzeug"] and not loaded["pandas"] and not loaded["tqdm"]


@pytest.mark.parametrize("module", ["schemas", "manager", "runner", "progress"])
def test_submodules_are_still_attributes_of_the_package(module: str) -> None:
    code = f"import avatars\nassert avatars.{module}.__name__ == 'avatars.{module}'\nimport avatars.{module}"
    loaded = _modules_after(code)
    assert not loaded["werkzeug"] and not loaded["pandas"]


def test_schemas_load_with_the_first_answer() -> None:
    code = (
        "from avatars.resources._helpers import schemas_module\n"
        "schemas = schemas_module()\n"
        "schemas.load(schemas.HealthMessageSchema, {'message': 'ok'})"
    )
    loaded = _modules_after(code)
    assert loaded["marshmallow"] and loaded["avatars.schemas"]
    assert not loaded["werkzeug"]


def test_star_import_and_dir_list_every_public_name() -> None:
    import avatars

    namespace: Dict[str, object] = {}
    exec("from avatars import *", namespace)
    assert set(avatars.__all__) <= set(namespace)
    assert set(avatars.__all__) <= set(dir(avatars))
    with pytest.raises(AttributeError):
        avatars.NoSuchName  # noqa: B018


def test_every_model_a_facade_loads_has_a_schema() -> None:
    """Facades name the model class they load (no schema looked up by string
    name): every one of them has a schema."""
    import inspect
    import re

    from avatars import models, schemas
    from avatars.resources import api_keys, auth, compatibility, datasets, health, jobs, results, users
    from avatars.resources import resources as resource_sets

    modules = [api_keys, auth, compatibility, datasets, health, jobs, results, users, resource_sets]
    names = set()
    for module in modules:
        source = inspect.getsource(module)
        assert not re.search(r"_load(?:_many)?\(\s*[\"']", source), module.__name__
        assert "Schema" not in source, module.__name__
        names |= set(re.findall(r"(?:self\._load(?:_many)?|\.load)\(\s*(\w+),", source))
    assert len(names) >= 14
    for name in sorted(names):
        assert schemas.schema_for(getattr(models, name)).__model__ is getattr(models, name), name
