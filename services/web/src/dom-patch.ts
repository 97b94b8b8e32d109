/**
 * Brings a live element in line with a freshly built copy, touching only what differs: a live update then keeps the
 * nodes on screen, and with them the reader's text selection, focus, a loaded image and a screen reader's place.
 */

/**
 * What matches an element on screen to its rebuilt copy: the tag and, where set, `data-key` (a job, a destination, a
 * result) and `data-action-key`. An element with listeners must carry a key naming what they do: a matched element
 * keeps its own listeners, not the copy's.
 */
function sameKind(live: Node, built: Node): boolean {
  if (!(live instanceof Element) || !(built instanceof Element)) return live.nodeType === built.nodeType;
  return live.tagName === built.tagName && ['data-key', 'data-action-key'].every((a) => live.getAttribute(a) === built.getAttribute(a));
}

function patchAttributes(live: Element, built: Element): void {
  for (const name of live.getAttributeNames()) if (!built.hasAttribute(name)) live.removeAttribute(name);
  for (const name of built.getAttributeNames()) {
    const value = built.getAttribute(name) ?? '';
    if (live.getAttribute(name) === value) continue;
    // CSSOM, not the attribute: the page's CSP refuses inline style attributes.
    if (name === 'style' && live instanceof HTMLElement && built instanceof HTMLElement) live.style.cssText = built.style.cssText;
    else live.setAttribute(name, value);
  }
}

function patchNode(live: Node, built: Node): void {
  if (live instanceof Element && built instanceof Element) {
    patchAttributes(live, built);
    patchChildren(live, [...built.childNodes]);
  } else if (live.textContent !== built.textContent) {
    live.textContent = built.textContent;
  }
}

/**
 * Makes `children` the children of `live`, in order. A child that is already one of them (an element the view keeps,
 * such as the MIP viewer) stays as it is; any other is matched, in order, to a remaining child of the same kind
 * (sameKind), which is patched to look like it; what has no match is inserted, and what is left over removed.
 */
export function patchChildren(live: Element, children: readonly Node[]): void {
  const remaining = [...live.childNodes];
  let from = 0;
  const next = children.map((child) => {
    if (child.parentNode === live) return child;
    const at = remaining.findIndex((node, i) => i >= from && !children.includes(node) && sameKind(node, child));
    if (at < 0) return child;
    from = at + 1;
    const match = remaining[at] as ChildNode;
    patchNode(match, child);
    return match;
  });
  const wanted = new Set<Node>(next);
  for (const node of [...live.childNodes]) if (!wanted.has(node)) node.remove();
  next.forEach((node, i) => {
    const at = live.childNodes[i];
    if (at !== node) live.insertBefore(node, at ?? null);
  });
}
