"""Pure helpers of the summary-py skill: workspace paths, file and folder
summaries and the recursive glob search.

Nothing here imports the generated bindings, so it runs (and is tested) with
plain CPython: `python3 -m unittest test_summary` in this folder. Failures are
raised as `ToolError(kind, message)`; app.py turns them into the WIT `error`.
"""

import fnmatch
import os
import posixpath
import stat

# Entries listed for a folder.
MAX_ENTRIES = 200
# Lines shown from the top of a file.
HEAD_LINES = 5
# A head line longer than this is cut (a minified file is one huge line).
MAX_LINE_CHARS = 500
# `files.find`: default and largest `max`.
DEFAULT_FIND = 50
MAX_FIND = 1000
# `files.find` stops walking after this many entries so a huge tree cannot
# eat the whole call deadline.
MAX_SCANNED = 100_000
# Folders `files.find` does not descend into.
SKIPPED_DIRS = frozenset({".git"})
# Bytes read at a time when counting.
CHUNK = 1 << 16


class ToolError(Exception):
    """A failure for the model to read; `kind` names the WIT error case
    (`invalid-input`, `not-found`, `denied`, `unavailable`, `internal`)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def resolve(root, rel):
    """`rel` (relative to `root`, `/`-separated) as an absolute path inside
    `root`, and its normalized relative form. Absolute paths and `..` that
    climb out of `root` are refused."""
    if not isinstance(rel, str):
        raise ToolError("invalid-input", "`path` must be a string")
    shown = rel
    rel = rel.strip()
    if rel == "":
        rel = "."
    if "\0" in rel:
        raise ToolError("invalid-input", f"path {shown!r} contains a NUL byte")
    if rel.startswith("/") or rel.startswith("\\"):
        raise ToolError(
            "invalid-input",
            f"path {shown!r} is absolute; give a path relative to the workspace root",
        )
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        raise ToolError("invalid-input", f"path {shown!r} leads outside the workspace")
    full = root if norm == "." else posixpath.join(root, norm)
    return full, norm


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _os_error(err, rel):
    if isinstance(err, FileNotFoundError):
        return ToolError("not-found", f"no file or folder {rel!r} in the workspace")
    if isinstance(err, NotADirectoryError):
        return ToolError("not-found", f"{rel!r}: a part of the path is not a folder")
    if isinstance(err, PermissionError):
        return ToolError("denied", f"{rel!r}: permission denied ({err.strerror or err})")
    return ToolError("internal", f"{rel!r}: {err.strerror or err}")


def summarize(root, rel):
    """The summary of file or folder `rel`: a dict ready for JSON."""
    full, norm = resolve(root, rel)
    try:
        st = os.stat(full)
    except OSError as err:
        raise _os_error(err, rel) from None
    if stat.S_ISDIR(st.st_mode):
        return _summarize_dir(full, norm)
    if stat.S_ISREG(st.st_mode):
        return _summarize_file(full, norm, st.st_size)
    return {"path": norm, "kind": _kind(st.st_mode), "size": st.st_size}


def _summarize_dir(full, norm):
    entries = []
    total = 0
    try:
        with os.scandir(full) as it:
            for entry in it:
                total += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                    item = {"name": entry.name, "kind": _kind(st.st_mode)}
                    if item["kind"] == "file":
                        item["size"] = st.st_size
                except OSError:
                    item = {"name": entry.name, "kind": "other"}
                entries.append(item)
    except OSError as err:
        raise _os_error(err, norm) from None
    entries.sort(key=lambda e: e["name"])
    return {
        "path": norm,
        "kind": "dir",
        "total_entries": total,
        "truncated": total > MAX_ENTRIES,
        "entries": entries[:MAX_ENTRIES],
    }


def _summarize_file(full, norm, size):
    newlines = 0
    words = 0
    in_word = False
    head = bytearray()
    last = b""
    binary = False
    try:
        with open(full, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                if b"\0" in chunk:
                    binary = True
                newlines += chunk.count(b"\n")
                # Words across chunk borders: a chunk that starts with a
                # non-space continues the previous chunk's last word.
                parts = chunk.split()
                words += len(parts)
                if in_word and parts and not chunk[:1].isspace():
                    words -= 1
                in_word = not chunk[-1:].isspace()
                if head.count(b"\n") < HEAD_LINES and len(head) < HEAD_LINES * MAX_LINE_CHARS * 4:
                    head += chunk
                last = chunk[-1:]
    except OSError as err:
        raise _os_error(err, norm) from None
    lines = newlines + (1 if last and last != b"\n" else 0)
    result = {
        "path": norm,
        "kind": "file",
        "size": size,
        "lines": lines,
        "words": words,
    }
    if binary:
        result["binary"] = True
    else:
        first = head.decode("utf-8", errors="replace").splitlines()[:HEAD_LINES]
        result["first_lines"] = [
            line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"
            for line in first
        ]
    return result


def find(root, pattern, limit):
    """Paths under `root` (relative, `/`-separated, folders ending in `/`)
    whose name matches `pattern`, or whose whole relative path matches it
    when the pattern contains a `/`. Sorted; at most `limit`."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ToolError("invalid-input", "`pattern` must be a non-empty glob such as \"*.md\"")
    pattern = pattern.strip()
    if pattern.startswith("/"):
        raise ToolError("invalid-input", f"pattern {pattern!r} is absolute; patterns are relative to the workspace root")
    whole_path = "/" in pattern
    if whole_path:
        pattern = posixpath.normpath(pattern)
    matches = []
    scanned = 0
    complete = True
    try:
        os.stat(root)
    except OSError as err:
        raise ToolError("unavailable", f"the workspace {root!r} cannot be read: {err.strerror or err}") from None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        base = os.path.relpath(dirpath, root).replace(os.sep, "/")
        base = "" if base == "." else base + "/"
        for name, suffix in [(d, "/") for d in dirnames] + [(f, "") for f in sorted(filenames)]:
            scanned += 1
            rel = base + name
            target = rel if whole_path else name
            if fnmatch.fnmatchcase(target, pattern):
                matches.append(rel + suffix)
        if scanned >= MAX_SCANNED:
            complete = False
            break
    matches.sort()
    return {
        "pattern": pattern,
        "matches": matches[:limit],
        "total_matches": len(matches),
        "truncated": len(matches) > limit,
        "scan_complete": complete,
    }


def find_limit(value):
    """`max` of `files.find`, checked: 1 to MAX_FIND, DEFAULT_FIND when absent."""
    if value is None:
        return DEFAULT_FIND
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ToolError("invalid-input", f"`max` must be a whole number, got {value!r}")
    value = int(value)
    if value < 1:
        raise ToolError("invalid-input", f"`max` must be at least 1, got {value}")
    return min(value, MAX_FIND)
