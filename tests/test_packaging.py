"""The wheel ships every package: a new sub-package missing from pyproject's list installs fine in
editable mode (the folders are mapped) and breaks only a real install — as `articles/web/` did."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

FOLDERS = {"articles": "bantin.articles", "index": "bantin.index", "bot": "bantin.bot", "templates": "bantin.templates"}


def test_every_package_folder_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder, name in FOLDERS.items():
        assert config["package-dir"][name] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    assert found == listed


def test_the_templates_and_samples_are_package_data() -> None:
    from bantin.bot.render import TEMPLATES
    from bantin.bot.settings import BUNDLED_SAMPLES

    assert (TEMPLATES / "vi" / "labels.j2").is_file() and (TEMPLATES / "en" / "help.html").is_file()
    assert len(list(BUNDLED_SAMPLES.glob("*.txt"))) == 24
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    assert data["bantin.templates"] == ["*.j2", "vi/*", "en/*"] and data["bantin.articles"] == ["samples/*.txt"]
