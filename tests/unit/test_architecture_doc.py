"""docs/architecture.md stays current: every topic is in it, and every file it names exists."""

import re

from streams.catalogue import load_catalogue
from streams.settings import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "architecture.md").read_text()


def test_the_topics_table_has_every_catalogue_topic():
    table = DOC.split("## The topics", 1)[1].split("\n## ", 1)[0]
    catalogue = load_catalogue(PROJECT_ROOT / "topics.yaml")
    assert [topic for topic in catalogue if f"`{topic}`" not in table] == []


def test_every_file_it_names_exists():
    file = re.compile(r"([\w.-]+/)+[\w.-]+\.(md|py|yaml|yml|toml|sh)")
    named = {code for code in re.findall(r"`([^`\n]+)`", DOC) if file.fullmatch(code)}
    assert "streams/transport.py" in named, "the pattern must find the files the page names"
    assert sorted(name for name in named if not (PROJECT_ROOT / name).exists()) == []
