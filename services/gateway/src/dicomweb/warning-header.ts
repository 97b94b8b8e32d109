/**
 * One `Warning` header value (RFC 7234 5.5, as PS3.18 uses it): `299 mipseg "<text>"`.
 *
 * The text comes from messages that quote what clients sent (a part's Content-Type, UIDs read from a stored file,
 * query keys) and from file names, so it may hold any character. Node's setHeader throws on control characters and
 * on anything outside Latin-1, which turned a STOW answer into a 500 after its instances were stored; and a
 * quoted-string cannot hold a bare `"` or `\`. So everything but printable ASCII becomes `?`, `"` becomes `'`, and
 * `\` is escaped as a quoted-pair.
 */
export function warningHeaderValue(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/gu, '?').replace(/"/g, "'").replace(/\\/g, '\\\\');
  return `299 mipseg "${printable}"`;
}
