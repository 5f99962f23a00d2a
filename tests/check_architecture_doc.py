#!/usr/bin/env python3
"""Keeps docs/ARCHITECTURE.md true: every file its two paths (one event,
one grant map) name exists, every function a step names is in one of the
files of that step, each step of the event path is in a file of its own,
and the event path has at most 8 steps. First it shows that a step naming
a function nowhere found fails the check, so it cannot pass by reading
nothing."""
import os
import re
import sys

TOP = os.environ.get("srcdir", ".")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_EVENT_FILES = 8


def steps(text, title):
    """The numbered steps under '## title', each one string."""
    m = re.search(r"^## " + re.escape(title) + r"\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        return None
    out = []
    for line in m.group(1).splitlines():
        if re.match(r"^\d+\. ", line):
            out.append(line)
        elif out and line.startswith("   ") and line.strip():
            out[-1] += " " + line.strip()
        elif not line.strip() and out:
            continue
    return out


def resolve(tok, folder):
    if tok.startswith("<") and tok.endswith(">"):
        return os.path.join("include", tok[1:-1])
    if "/" in tok:
        return tok
    return os.path.join(folder, tok) if folder else tok


def check_step(step, errors):
    """The files of the step, in order; records what is wrong."""
    toks = re.findall(r"`([^`]+)`", step)
    files, names, folder = [], [], None
    for t in toks:
        if re.search(r"\.(c|h)>?$", t):
            path = resolve(t, folder)
            folder = os.path.dirname(path)
            if not os.path.isfile(os.path.join(TOP, path)):
                errors.append(f"{path}: no such file ({step[:40]}...)")
                continue
            files.append(path)
        elif IDENT.match(t):
            names.append(t)
    bodies = [open(os.path.join(TOP, f), encoding="utf-8").read() for f in files]
    for n in names:
        if not any(re.search(r"\b" + re.escape(n) + r"\b", b) for b in bodies):
            errors.append(f"{n}: in none of {', '.join(files) or 'no file'}")
    return files


def check(text):
    errors = []
    event = steps(text, "The path of one event")
    grant = steps(text, "The path of one grant map")
    if not event or not grant:
        return ["a path section is missing or has no steps"]
    seen = []
    for s in event:
        files = check_step(s, errors)
        if files:
            main = files[0]
            if main in seen:
                errors.append(f"{main}: visited twice on the event path")
            seen.append(main)
    if len(event) > MAX_EVENT_FILES:
        errors.append(f"the event path has {len(event)} steps, more than {MAX_EVENT_FILES}")
    for s in grant:
        check_step(s, errors)
    return errors


def main():
    doc = os.path.join(TOP, "docs", "ARCHITECTURE.md")
    text = open(doc, encoding="utf-8").read()
    planted = text.replace("`l2_scan`", "`l2_scan_nowhere`", 1)
    if planted == text or not check(planted):
        print("check_architecture_doc: a planted wrong step was not caught")
        return 99
    errors = check(text)
    for e in errors:
        print(f"check_architecture_doc: {doc}: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
