#!/usr/bin/env python3
"""Regenerates docs/api.md from Examples/api.template.md: each <<title>> becomes the code between
`// README: title` and `// END` in Examples/ReadmeExamples/*.swift, verbatim. HemeraDemoTests
checks that docs/api.md and the examples agree."""
import glob, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
snippets = {}
for path in sorted(glob.glob(os.path.join(root, "Examples/ReadmeExamples/*.swift"))):
    for match in re.finditer(r"// README: (.+?)\n(.*?)// END\n", open(path).read(), re.S):
        snippets[match.group(1)] = match.group(2).rstrip("\n")
template = open(os.path.join(root, "Examples/api.template.md")).read()
unused = dict(snippets)
def replace(match):
    unused.pop(match.group(1), None)
    return "```swift\n" + snippets[match.group(1)] + "\n```"
output = re.sub(r"<<(.+?)>>", replace, template)
if unused:
    sys.exit("examples not in the template: " + ", ".join(unused))
open(os.path.join(root, "docs/api.md"), "w").write(output)
