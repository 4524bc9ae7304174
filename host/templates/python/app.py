"""{{name}}: a Corral tool written in Python.

Build:   componentize-py -d wit -w tool-plugin componentize app -o {{tool_name}}.wasm
   or:   corral tool build
Try it:  corral tool call {{tool_name}}.wasm {{tool_name}} --args '{"text": "hello"}'
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.corral_tool_types import (
    CallContext,
    Confirmation,
    ToolDescriptor,
    ToolError_Failed,
    ToolError_InvalidArguments,
    ToolError_NotFound,
)

# The model reads the description and the schema: make them precise.
SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "The text to measure."}},
    "required": ["text"],
    "additionalProperties": False,
}


def {{tool_name}}(args: dict) -> dict:
    text = args.get("text")
    if not isinstance(text, str):
        raise Err(ToolError_InvalidArguments("`text` must be a string"))
    return {"length": len(text)}


class Tool(exports.Tool):
    def describe(self) -> list[ToolDescriptor]:
        return [
            ToolDescriptor(
                name="{{tool_name}}",
                description="Counts the characters of a text.",
                input_schema=json.dumps(SCHEMA),
                output_schema=None,
                confirmation=Confirmation.NEVER,
                tool_type=None,
            )
        ]

    def invoke(self, name: str, arguments: str, context: CallContext) -> str:
        if name != "{{tool_name}}":
            raise Err(ToolError_NotFound(f"no tool named `{name}`"))
        try:
            args = json.loads(arguments)
        except ValueError as err:
            raise Err(ToolError_InvalidArguments(f"arguments are not valid JSON: {err}"))
        try:
            return json.dumps({{tool_name}}(args))
        except Err:
            raise
        except Exception as err:
            raise Err(ToolError_Failed(f"{type(err).__name__}: {err}"))
