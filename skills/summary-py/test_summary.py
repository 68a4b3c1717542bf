"""Tests of the pure helpers: `python3 -m unittest test_summary` in this folder
(plain CPython, no bindings needed). build-examples.sh runs them first."""

import os
import tempfile
import unittest

import summary
from summary import ToolError


class SummaryTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        os.makedirs(os.path.join(self.root, "docs", "deep"))
        os.makedirs(os.path.join(self.root, ".git"))
        self.write("README.md", "# Title\n\nsome words here\nline four\nfive\nsix\n")
        self.write("docs/a.md", "alpha beta")
        self.write("docs/deep/b.md", "")
        self.write("docs/notes.txt", "x\n")
        self.write(".git/HEAD.md", "ref")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(text)

    def kind(self, fn, *args):
        with self.assertRaises(ToolError) as cm:
            fn(*args)
        return cm.exception.kind, cm.exception.message

    def test_file(self):
        s = summary.summarize(self.root, "README.md")
        self.assertEqual(s["size"], 44)
        self.assertEqual(s["lines"], 6)
        self.assertEqual(s["words"], 9)
        self.assertEqual(s["first_lines"], ["# Title", "", "some words here", "line four", "five"])

    def test_file_without_final_newline(self):
        s = summary.summarize(self.root, "docs/a.md")
        self.assertEqual((s["lines"], s["words"]), (1, 2))
        s = summary.summarize(self.root, "docs/deep/b.md")
        self.assertEqual((s["size"], s["lines"], s["words"], s["first_lines"]), (0, 0, 0, []))

    def test_words_across_chunks(self):
        self.write("big.txt", ("word " * 40000) + "end")
        s = summary.summarize(self.root, "big.txt")
        self.assertEqual(s["words"], 40001)
        self.write("long.txt", "x" * (summary.CHUNK * 2 + 5) + " y")
        self.assertEqual(summary.summarize(self.root, "long.txt")["words"], 2)

    def test_dir(self):
        s = summary.summarize(self.root, ".")
        names = [e["name"] for e in s["entries"]]
        self.assertEqual(names, [".git", "README.md", "docs"])
        self.assertEqual(s["entries"][1], {"name": "README.md", "kind": "file", "size": 44})
        self.assertEqual(s["entries"][2]["kind"], "dir")
        self.assertFalse(s["truncated"])

    def test_dir_limit(self):
        os.makedirs(os.path.join(self.root, "many"))
        for i in range(summary.MAX_ENTRIES + 3):
            self.write(f"many/f{i:03}", "")
        s = summary.summarize(self.root, "many/")
        self.assertEqual(len(s["entries"]), summary.MAX_ENTRIES)
        self.assertEqual(s["total_entries"], summary.MAX_ENTRIES + 3)
        self.assertTrue(s["truncated"])

    def test_refused_paths(self):
        for bad in ["/etc/passwd", "..", "../x", "docs/../../x", "a/b/../../../c"]:
            kind, message = self.kind(summary.summarize, self.root, bad)
            self.assertEqual(kind, "invalid-input", bad)
            self.assertIn(repr(bad), message)
        # `..` that stays inside is fine.
        self.assertEqual(summary.summarize(self.root, "docs/../README.md")["path"], "README.md")

    def test_missing(self):
        kind, message = self.kind(summary.summarize, self.root, "nope.txt")
        self.assertEqual(kind, "not-found")
        self.assertIn("nope.txt", message)

    def test_find(self):
        r = summary.find(self.root, "*.md", 50)
        self.assertEqual(r["matches"], ["README.md", "docs/a.md", "docs/deep/b.md"])
        self.assertEqual(summary.find(self.root, "docs/*.md", 50)["matches"], ["docs/a.md", "docs/deep/b.md"])
        self.assertEqual(summary.find(self.root, "d*", 50)["matches"], ["docs/", "docs/deep/"])
        r = summary.find(self.root, "*.md", 2)
        self.assertEqual((r["matches"], r["total_matches"], r["truncated"]), (["README.md", "docs/a.md"], 3, True))

    def test_find_limit(self):
        self.assertEqual(summary.find_limit(None), summary.DEFAULT_FIND)
        self.assertEqual(summary.find_limit(5000), summary.MAX_FIND)
        for bad in [0, -1, 2.5, "3", True]:
            self.assertEqual(self.kind(summary.find_limit, bad)[0], "invalid-input")


if __name__ == "__main__":
    unittest.main()
