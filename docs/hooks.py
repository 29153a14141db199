"""
MkDocs hook: two pages of the site are files kept elsewhere, not copies of them.

* ``index.md`` is the README (the repository's front page is the site's);
* ``model-card.md`` is ``glass_perception/models/MODEL_CARD.md``, which ships beside the models.

Their pages in ``docs/`` hold a placeholder, replaced here by the file's text with its links made
relative to the site instead of the repository or the package.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    'index.md': (ROOT / 'README.md', [('](docs/', ']('),
                                      ('](glass_perception/models/MODEL_CARD.md)',
                                       '](model-card.md)')]),
    'model-card.md': (ROOT / 'glass_perception' / 'models' / 'MODEL_CARD.md',
                      [('](../../docs/', '](')]),
}


def on_page_markdown(markdown, page, config, files):
    """Put the kept file's text in place of the page's placeholder."""
    source = SOURCES.get(page.file.src_uri)
    if source is None:
        return markdown
    path, rewrites = source
    text = path.read_text()
    for old, new in rewrites:
        text = text.replace(old, new)
    return text
