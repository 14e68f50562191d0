#!/usr/bin/python3
"""tests/check_docs.py SRCDIR: code quoted in the docs is the code that is
compiled. A fenced block right after `<!-- file: PATH -->` must equal the
file PATH; after `<!-- excerpt: PATH -->` it must appear in PATH verbatim.
Exits 1 on the first drift, naming the doc and the line."""
import os
import re
import sys

MARK = re.compile(r"<!-- (file|excerpt): (\S+) -->\n```[a-z]*\n(.*?)```", re.S)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "."
    checked = 0
    for doc in sorted(os.listdir(os.path.join(src, "docs"))):
        if not doc.endswith(".md"):
            continue
        text = open(os.path.join(src, "docs", doc), encoding="utf-8").read()
        for m in MARK.finditer(text):
            kind, path, block = m.groups()
            code = open(os.path.join(src, path), encoding="utf-8").read()
            ok = block == code if kind == "file" else block in code
            if not ok:
                line = text.count("\n", 0, m.start()) + 1
                print("check_docs: docs/%s:%d: the quoted %s of %s differs from the file"
                      % (doc, line, kind, path))
                return 1
            checked += 1
    print("check_docs: %d quoted blocks match their sources" % checked)
    return 0 if checked else 1


if __name__ == "__main__":
    sys.exit(main())
