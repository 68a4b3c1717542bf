"""summary-py: read-only summaries of the operator's workspace, as an
openpista `tool` component built with componentize-py.

    componentize-py -d WIT_DIR -w tool componentize app -o summary-py.wasm

The workspace root is the config value `workspace`, which the host sets to
the folder it mounted for `$WORKSPACE` (read-only, at the same path).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.tools import CallContext
from wit_world.imports import host
from wit_world.imports.types import (
    Error_Denied,
    Error_Internal,
    Error_InvalidInput,
    Error_NotFound,
    Error_Unavailable,
    ToolResult,
    ToolSpec,
)

import summary

SPECS = [
    ToolSpec(
        name="files.summary",
        description=(
            "Summarize a file or folder of the workspace. For a file: size in bytes, "
            "line and word counts and the first 5 lines. For a folder: its entries "
            f"(name, kind, size), at most {summary.MAX_ENTRIES}. Read-only."
        ),
        parameters=json.dumps(
            {
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Path relative to the workspace root, such as "
                        "\"README.md\" or \"src\"; \".\" for the root itself.",
                    }
                },
                "required": ["path"],
                "additionalProperties": False,
            }
        ),
    ),
    ToolSpec(
        name="files.find",
        description=(
            "Find files and folders in the workspace whose name matches a glob "
            "(fnmatch: *, ?, [abc]), searching all subfolders (not .git). A pattern "
            "with a '/' is matched against the whole relative path instead. Returns "
            "sorted relative paths; folders end in '/'."
        ),
        parameters=json.dumps(
            {
                "type": "object",
                "properties": {
                    "pattern": {
                        "type": "string",
                        "description": "Glob such as \"*.md\", \"Cargo.toml\" or \"docs/*.md\".",
                    },
                    "max": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": summary.MAX_FIND,
                        "default": summary.DEFAULT_FIND,
                        "description": "Most paths to return.",
                    },
                },
                "required": ["pattern"],
                "additionalProperties": False,
            }
        ),
    ),
]

ERRORS = {
    "invalid-input": Error_InvalidInput,
    "not-found": Error_NotFound,
    "denied": Error_Denied,
    "unavailable": Error_Unavailable,
    "internal": Error_Internal,
}


def _fail(kind: str, message: str) -> Err:
    return Err(ERRORS.get(kind, Error_Internal)(message))


def _workspace() -> str:
    root = host.config("workspace")
    if not root:
        raise summary.ToolError(
            "unavailable",
            "no workspace is configured (config value `workspace` is unset; "
            "grant the component `$WORKSPACE` in its manifest's [capabilities] paths)",
        )
    return root.rstrip("/") or "/"


def _arguments(text: str) -> dict:
    try:
        args = json.loads(text or "{}")
    except ValueError as e:
        raise summary.ToolError("invalid-input", f"the arguments are not valid JSON: {e}") from None
    if not isinstance(args, dict):
        raise summary.ToolError("invalid-input", "the arguments must be a JSON object")
    return args


class Tools(exports.Tools):
    def list_tools(self) -> list[ToolSpec]:
        return SPECS

    def invoke(self, name: str, arguments: str, context: CallContext) -> ToolResult:
        try:
            if name == "files.summary":
                args = _arguments(arguments)
                if "path" not in args:
                    raise summary.ToolError("invalid-input", "`path` is required")
                result = summary.summarize(_workspace(), args["path"])
            elif name == "files.find":
                args = _arguments(arguments)
                if "pattern" not in args:
                    raise summary.ToolError("invalid-input", "`pattern` is required")
                limit = summary.find_limit(args.get("max"))
                result = summary.find(_workspace(), args["pattern"], limit)
            else:
                raise summary.ToolError(
                    "not-found", f"summary-py has no tool {name!r} (it has files.summary, files.find)"
                )
        except summary.ToolError as e:
            host.log(host.LogLevel.DEBUG, "tool failed", [("tool", name), ("kind", e.kind), ("error", e.message)])
            raise _fail(e.kind, e.message) from None
        except Exception as e:  # a bug: report it rather than trap
            host.log(host.LogLevel.ERROR, "tool crashed", [("tool", name), ("error", repr(e))])
            raise _fail("internal", f"{name}: {type(e).__name__}: {e}") from None
        return ToolResult(
            content=json.dumps(result, ensure_ascii=False),
            is_error=False,
            attachments=[],
        )
