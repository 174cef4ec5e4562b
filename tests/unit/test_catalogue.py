"""The topic catalogue and the schema export agree: every topic's values have a published schema."""

import importlib
import json
import pkgutil
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import models
from models.events import SCHEMA_VERSION
from streams.catalogue import (
    ALERT_ACTIONS,
    ALERTS,
    BOMS,
    PRODUCTION_ORDERS,
    REVIEW_ACTIONS,
    REVIEWS,
    RULES,
    SHORTAGES,
    TRANSFER_ACTIONS,
    TRANSFERS,
    CatalogueError,
    load_catalogue,
    value_schemas,
)
from streams.cli import app
from streams.cli.schemas import schema_file_name
from streams.settings import PROJECT_ROOT

CATALOGUE = load_catalogue(PROJECT_ROOT / "topics.yaml")


def _versioned_models() -> set[type[BaseModel]]:
    """Every pydantic model in ``models`` that carries a ``schema_version``: a published record."""
    found = set()
    for module_info in pkgutil.walk_packages(models.__path__, "models."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and "schema_version" in value.model_fields
            ):
                found.add(value)
    return found


def _export(directory: Path) -> set[str]:
    result = CliRunner().invoke(app, ["schemas", "export", str(directory)])
    assert result.exit_code == 0, result.output
    return {path.name for path in directory.iterdir()}


def test_the_export_writes_exactly_the_schemas_the_catalogue_names(tmp_path: Path):
    schemas = value_schemas(CATALOGUE)
    assert _export(tmp_path) == {schema_file_name(name) for name in schemas}
    for name, schema in schemas.items():
        document = json.loads((tmp_path / schema_file_name(name)).read_text())
        assert document["$id"] == f"urn:stockloop:schema:{name}:v{SCHEMA_VERSION}"
        assert document["x-schema-version"] == SCHEMA_VERSION
        assert document["x-topics"] == list(schema.topics)
        assert document["title"] == name


def test_the_export_includes_alerts_alert_actions_and_the_rule_file(tmp_path: Path):
    exported = _export(tmp_path)
    for name in ("Alert", "Acknowledge", "Silence", "Expire", "RuleFile", "DeadLetter"):
        assert schema_file_name(name) in exported
    rule_file = json.loads((tmp_path / schema_file_name("RuleFile")).read_text())
    assert rule_file["x-value-format"] == "yaml"
    assert rule_file["x-topics"] == [RULES]


def test_every_topic_that_is_written_names_its_schemas():
    carried = {topic for schema in value_schemas(CATALOGUE).values() for topic in schema.topics}
    written = {name for name, spec in CATALOGUE.items() if not spec.planned}
    assert written <= carried
    assert {ALERTS, ALERT_ACTIONS} <= carried


def test_the_response_topics_are_written_with_their_published_schemas(tmp_path: Path):
    written = {
        TRANSFERS: "Transfer",
        TRANSFER_ACTIONS: "TransferAction",
        REVIEWS: "Review",
        REVIEW_ACTIONS: "ReviewAction",
    }
    exported = _export(tmp_path)
    schemas = value_schemas(CATALOGUE)
    for topic, name in written.items():
        assert not CATALOGUE[topic].planned, topic
        assert schemas[name].topics == (topic,)
        assert schema_file_name(name) in exported


def test_a_planned_topic_may_name_its_schemas_and_they_are_published(tmp_path: Path):
    topics = tmp_path / "topics.yaml"
    topics.write_text(
        "topics:\n  out.x: {description: d, key: k, value: v, planned: true,"
        " schemas: [models.events.DeadLetter]}\n"
    )
    catalogue = load_catalogue(topics)
    assert catalogue["out.x"].planned
    assert value_schemas(catalogue)["DeadLetter"].topics == ("out.x",)


def test_every_versioned_model_of_the_core_is_in_the_catalogue():
    published = {schema.model for schema in value_schemas(CATALOGUE).values()}
    missing = {f"{m.__module__}.{m.__name__}" for m in _versioned_models() - published}
    assert not missing, f"add to the schemas: of its topic in topics.yaml: {sorted(missing)}"


def test_a_topic_without_schemas_must_be_marked_planned(tmp_path: Path):
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  out.x: {description: d, key: k, value: v}\n")
    with pytest.raises(ValueError, match=r"out\.x: name the schema of its values"):
        load_catalogue(topics)


def test_a_schema_that_does_not_import_names_its_topic(tmp_path: Path):
    topics = tmp_path / "topics.yaml"
    topics.write_text(
        "topics:\n  out.x: {description: d, key: k, value: v, schemas: [models.events.Nope]}\n"
    )
    with pytest.raises(CatalogueError, match=r"out\.x: schema 'models\.events\.Nope'"):
        value_schemas(load_catalogue(topics))


def test_the_shortage_topics_are_written_with_their_schemas():
    schemas = value_schemas(CATALOGUE)
    written = {SHORTAGES: "ShortageResult", PRODUCTION_ORDERS: "ProductionOrder", BOMS: "BomLine"}
    for topic, name in written.items():
        assert not CATALOGUE[topic].planned, topic
        assert schemas[name].topics == (topic,)
