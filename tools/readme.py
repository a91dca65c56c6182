"""Write README.md from nbs/index.ipynb with nbconvert (nbdev-readme needs quarto, which cannot be installed here).
`--check` only compares and exits 1 when README.md is out of date."""
import sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent

def render() -> str:
    nb = nbformat.read(ROOT / 'nbs' / 'index.ipynb', as_version=4)
    nb.cells = [c for c in nb.cells if not c.source.lstrip().startswith('#| hide')]
    for c in nb.cells:
        if c.cell_type == 'code': c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
    body, _ = MarkdownExporter().from_notebook_node(nb)
    return body.strip() + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT / 'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is up to date' if ok else 'README.md is out of date: run `make readme`')
        sys.exit(0 if ok else 1)
    readme.write_text(text)
    print(f'wrote {readme}')
