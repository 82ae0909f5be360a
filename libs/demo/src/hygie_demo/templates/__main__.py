"""``python -m hygie_demo.templates``: rewrite the shipped OPT files from the definitions."""

from . import write_opts

for path in write_opts():
    print(path.name)
