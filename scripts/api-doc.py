#!/usr/bin/env python3
"""Regenerates docs/api.md from Examples/api.template.md, and the DocC article
Sources/Hemera/Hemera.docc/GettingStarted.md from Examples/GettingStarted.template.md: each
<<title>> becomes the code between `// README: title` and `// END` in
Examples/ReadmeExamples/*.swift, verbatim. HemeraDemoTests checks that the documents and the
examples agree."""
import glob, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
snippets = {}
for path in sorted(glob.glob(os.path.join(root, "Examples/ReadmeExamples/*.swift"))):
    for match in re.finditer(r"// README: (.+?)\n(.*?)// END\n", open(path).read(), re.S):
        snippets[match.group(1)] = match.group(2).rstrip("\n")

def render(template_path, output_path, require_all):
    template = open(os.path.join(root, template_path)).read()
    unused = dict(snippets)
    def replace(match):
        unused.pop(match.group(1), None)
        return "```swift\n" + snippets[match.group(1)] + "\n```"
    output = re.sub(r"<<(.+?)>>", replace, template)
    if require_all and unused:
        sys.exit("examples not in " + template_path + ": " + ", ".join(unused))
    open(os.path.join(root, output_path), "w").write(output)

render("Examples/api.template.md", "docs/api.md", require_all=True)
render("Examples/GettingStarted.template.md", "Sources/Hemera/Hemera.docc/GettingStarted.md", require_all=False)
