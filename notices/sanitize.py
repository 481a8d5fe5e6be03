"""Notice bodies: Markdown or a safe HTML subset in, sanitized HTML out.

Publishers paste text from Word and other systems, and the HTML ends up in app web views,
the WeChat mini-program's rich-text component and the kiosk page, all of which render it with
the enterprise's session nearby. So the output is an allowlist, enforced by nh3 (ammonia) after
markdown-it renders Markdown (raw HTML inside Markdown goes through the same allowlist):

- text structure only: paragraphs, headings, lists, tables, quotes, code, emphasis;
- links with https, mailto or tel targets only, always `rel="noopener noreferrer nofollow"`;
- no images, iframes, styles, classes, ids or event handlers: a remote image would tell a
  third party who opened a government notice and when, and styles break the mini-program.

The source is kept as written (so a correction can be edited from it) next to the HTML.
"""

from __future__ import annotations

import functools
import html as html_module

import nh3
from markdown_it import MarkdownIt

MAX_BODY_CHARS = 20_000

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s",
    "del", "sup", "sub", "blockquote", "ul", "ol", "li", "a", "code", "pre", "table", "thead",
    "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"colspan", "rowspan", "align"},
    "td": {"colspan", "rowspan", "align"},
}
URL_SCHEMES = frozenset({"https", "mailto", "tel"})
# Elements whose content is dropped with the element, not kept as text.
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template",
                               "noscript", "textarea", "select", "svg", "math"})

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])


def clean_html(html: str) -> str:
    """Reduce any HTML fragment to the allowlist."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def render_body(body_format: str, source: str) -> str:
    """Sanitized HTML for a body written as `markdown` or `html`."""
    if body_format == "markdown":
        return clean_html(_markdown.render(source))
    if body_format == "html":
        return clean_html(source)
    raise ValueError(f"unknown body format {body_format!r}")


@functools.lru_cache(maxsize=4096)
def plain_excerpt(html: str, *, limit: int = 80) -> str:
    """A one-line text preview of sanitized HTML, for lists and push payloads (memoised: the
    same notice is listed on many enterprises' pages)."""
    text = nh3.clean(html, tags=set()).replace("&nbsp;", " ")
    text = " ".join(html_module.unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
