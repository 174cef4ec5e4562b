"""``stockloop schemas export``: the event schemas as JSON Schema files for consumers."""

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from models.events import EXPORTED_SCHEMAS, SCHEMA_VERSION

app = typer.Typer(help="Event schemas (JSON Schema) of every topic's values.", no_args_is_help=True)
console = Console()


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Where to write the files.")],
) -> None:
    """Write one ``NAME.v<version>.schema.json`` per event schema into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in EXPORTED_SCHEMAS.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:stockloop:schema:{name}:v{SCHEMA_VERSION}",
            "x-schema-version": SCHEMA_VERSION,
            **model.model_json_schema(mode="serialization"),
        }
        path = directory / f"{name}.v{SCHEMA_VERSION}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        console.print(f"wrote {path}")
