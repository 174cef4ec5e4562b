"""``stockloop schemas export``: the value schemas of every topic as JSON Schema files.

The list comes from the topic catalogue (``topics.yaml``, ``schemas:`` of each
topic), so what is exported and what travels on the topics cannot disagree.
"""

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from models.events import SCHEMA_VERSION
from streams.catalogue import CatalogueError, ValueSchema, load_catalogue, value_schemas
from streams.settings import Settings

app = typer.Typer(help="Event schemas (JSON Schema) of every topic's values.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Where to write the files.")],
) -> None:
    """Write one ``NAME.v<version>.schema.json`` per value schema of a topics.yaml topic.

    Each file says which topics carry it (``x-topics``) and how the value is
    encoded (``x-value-format``: json, or yaml for the rule file, whose text
    parses to a document the schema describes). A planned topic's schemas are exported too.
    """
    try:
        schemas = value_schemas(load_catalogue(Settings().topics_file))
    except CatalogueError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    directory.mkdir(parents=True, exist_ok=True)
    for schema in schemas.values():
        path = directory / schema_file_name(schema.name)
        path.write_bytes(
            orjson.dumps(json_schema(schema), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def schema_file_name(name: str) -> str:
    """The file a schema is exported to; the version is in the name so versions sit side by side."""
    return f"{name}.v{SCHEMA_VERSION}.schema.json"


def json_schema(schema: ValueSchema) -> dict[str, Any]:
    """The JSON Schema document of one value schema, with its id, version and topics."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:stockloop:schema:{schema.name}:v{SCHEMA_VERSION}",
        "x-schema-version": SCHEMA_VERSION,
        "x-topics": list(schema.topics),
        "x-value-format": schema.value_format,
        **schema.model.model_json_schema(mode="serialization"),
    }
