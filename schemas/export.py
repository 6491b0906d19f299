"""Export JSON Schemas of every topic's value type into `schemas/jsonschema/`.

Domain-event topics are a public interface; their JSON Schemas are committed so subscribers can
generate clients and review changes. Regenerate after changing a Struct:

    python -m picket.schemas.export
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from picket.schemas.codecs import schema_without
from picket.schemas.topics import ALL_TOPICS

OUT = Path(__file__).with_name("jsonschema")


def rendered() -> dict[str, str]:
    """File name → JSON Schema text, for every topic with a Struct value type (of the values
as the topic's codec writes them: without the fields a public topic leaves out)."""
    files = {}
    for topic in ALL_TOPICS:
        if topic.value_type is bytes:
            continue
        schema = schema_without(msgspec.json.schema(topic.value_type), topic.redact)
        schema["title"] = topic.name
        schema["description"] = topic.doc
        files[f"{topic.name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text)
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
