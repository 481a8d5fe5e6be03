// Defence in depth for notice bodies. The server already sanitized them (notices/sanitize.py,
// nh3); before this page inserts one it is rebuilt node by node against the same allowlist, so
// a server bug cannot become script in a publisher's session.

const ALLOWED_TAGS = new Set([
  'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'strong', 'b', 'em', 'i', 'u', 's',
  'del', 'sup', 'sub', 'blockquote', 'ul', 'ol', 'li', 'a', 'code', 'pre', 'table', 'thead',
  'tbody', 'tr', 'th', 'td',
]);
const ALLOWED_ATTRIBUTES = {
  a: new Set(['href', 'title']),
  ol: new Set(['start']),
  th: new Set(['colspan', 'rowspan', 'align']),
  td: new Set(['colspan', 'rowspan', 'align']),
};
const DROP_WITH_CONTENT = new Set([
  'script', 'style', 'iframe', 'object', 'embed', 'template', 'noscript', 'textarea', 'select',
  'svg', 'math',
]);
const SAFE_URL = /^(https:|mailto:|tel:)/i;

function copyChildren(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(node.textContent));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = node.localName;
      if (DROP_WITH_CONTENT.has(tag)) continue;
      if (!ALLOWED_TAGS.has(tag)) {
        copyChildren(node, target); // unknown element: keep its text
        continue;
      }
      const clean = document.createElement(tag);
      const allowed = ALLOWED_ATTRIBUTES[tag] || new Set();
      for (const attr of node.attributes) {
        if (!allowed.has(attr.name)) continue;
        if (attr.name === 'href' && !SAFE_URL.test(attr.value.trim())) continue;
        clean.setAttribute(attr.name, attr.value);
      }
      if (tag === 'a') {
        clean.setAttribute('rel', 'noopener noreferrer nofollow');
        clean.setAttribute('target', '_blank');
      }
      copyChildren(node, clean);
      target.append(clean);
    }
  }
}

// A DocumentFragment holding only allowlisted markup. DOMParser documents run no scripts and
// load nothing, so parsing hostile input here is inert.
export function sanitizedFragment(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  const fragment = document.createDocumentFragment();
  copyChildren(parsed.body, fragment);
  return fragment;
}
