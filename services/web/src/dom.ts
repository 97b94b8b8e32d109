/** A few lines instead of a framework: build elements with properties, listeners and children. */
export type Child = Node | string | number | null | undefined | false;

export interface Props {
  readonly class?: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly on?: { readonly [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  readonly title?: string;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title) el.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  for (const [type, listener] of Object.entries(props.on ?? {})) el.addEventListener(type, listener as EventListener);
  append(el, children);
  return el;
}

export function append(parent: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * Makes `children` the element's children, in order, moving only what is out of place: an element that stays
 * where it was keeps its keyboard focus and a click in progress.
 */
export function placeChildren(parent: Element, children: readonly Element[]): void {
  const wanted = new Set<Element>(children);
  for (const el of [...parent.children]) if (!wanted.has(el)) el.remove();
  children.forEach((child, i) => {
    const at = parent.children[i];
    if (at !== child) parent.insertBefore(child, at ?? null);
  });
}

/**
 * A selector that finds the focused element of `root` again in a re-rendered copy: by its action key, form name,
 * download or link target. Undefined where nothing inside `root` has focus, or it has none of these.
 */
export function focusedKey(root: Element): string | undefined {
  const el = document.activeElement;
  if (!el || !root.contains(el) || el === root) return undefined;
  const attr = ['data-action-key', 'name', 'data-download', 'href'].find((a) => el.hasAttribute(a));
  return attr ? `${el.tagName.toLowerCase()}[${attr}="${CSS.escape(el.getAttribute(attr) ?? '')}"]` : undefined;
}

/** Gives focus back to what `key` (focusedKey) names, unless focus has moved on meanwhile. */
export function restoreFocus(root: Element, key: string | undefined): void {
  if (!key || (document.activeElement && document.activeElement !== document.body)) return;
  root.querySelector<HTMLElement>(key)?.focus({ preventScroll: true });
}
