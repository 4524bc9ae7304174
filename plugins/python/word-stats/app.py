"""word-stats: a Corral tool component written in Python (componentize-py).

Two tools: `word_stats` counts words, characters and lines and lists the most frequent words;
`greet` greets someone with a prefix the operator sets through the `config` capability.
Build: componentize-py -d ../../../wit -w tool-plugin componentize app -o word_stats.wasm
"""

import json
from collections import Counter

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, log
from wit_world.imports.corral_tool_types import (
    CallContext,
    Confirmation,
    ToolDescriptor,
    ToolError_Denied,
    ToolError_Failed,
    ToolError_InvalidArguments,
    ToolError_NotFound,
)

WORD_STATS_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "The text to analyse."},
        "top": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "How many of the most frequent words to list (default 5).",
        },
    },
    "required": ["text"],
    "additionalProperties": False,
}

GREET_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "description": "Who to greet."}},
    "required": ["name"],
    "additionalProperties": False,
}


def word_stats(args: dict) -> dict:
    text = args.get("text")
    if not isinstance(text, str):
        raise Err(ToolError_InvalidArguments("`text` must be a string"))
    top = args.get("top", 5)
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise Err(ToolError_InvalidArguments("`top` must be a non-negative integer"))
    words = [w.strip(".,;:!?\"'()[]").lower() for w in text.split()]
    words = [w for w in words if w]
    # Sorted by count, then alphabetically, so ties come out the same on every run.
    counts = sorted(Counter(words).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    log.log(log.Level.INFO, f"word_stats: {len(words)} words")
    return {
        "words": len(words),
        "characters": len(text),
        "lines": len(text.splitlines()) if text else 0,
        "top_words": [[word, count] for word, count in counts],
    }


def greet(args: dict) -> dict:
    name = args.get("name")
    if not isinstance(name, str):
        raise Err(ToolError_InvalidArguments("`name` must be a string"))
    try:
        prefix = config.get("greeting_prefix") or "Hello"
    except Err as err:
        raise Err(ToolError_Denied(f"cannot read the greeting prefix: {err.value.value}"))
    return {"greeting": f"{prefix}, {name}!"}


TOOLS = {"word_stats": word_stats, "greet": greet}


class Tool(exports.Tool):
    def describe(self) -> list[ToolDescriptor]:
        return [
            ToolDescriptor(
                name="word_stats",
                description="Counts the words, characters and lines of a text and lists its most frequent words.",
                input_schema=json.dumps(WORD_STATS_SCHEMA),
                output_schema=None,
                confirmation=Confirmation.NEVER,
                tool_type="text",
            ),
            ToolDescriptor(
                name="greet",
                description="Greets someone by name, with the operator's configured greeting.",
                input_schema=json.dumps(GREET_SCHEMA),
                output_schema=None,
                confirmation=Confirmation.NEVER,
                tool_type="text",
            ),
        ]

    def invoke(self, name: str, arguments: str, context: CallContext) -> str:
        tool = TOOLS.get(name)
        if tool is None:
            raise Err(ToolError_NotFound(f"this component has no tool named `{name}`"))
        try:
            args = json.loads(arguments)
        except ValueError as err:
            raise Err(ToolError_InvalidArguments(f"arguments are not valid JSON: {err}"))
        if not isinstance(args, dict):
            raise Err(ToolError_InvalidArguments("arguments must be a JSON object"))
        try:
            return json.dumps(tool(args))
        except Err:
            raise
        except Exception as err:  # a bug in the tool: report it, do not trap
            raise Err(ToolError_Failed(f"{type(err).__name__}: {err}"))
