/**
 * Newest first, then by id in code-unit order: the embedded job store's ORDER BY created_at DESC, id, which queue
 * mode follows so that both list, page and pick "the newest" alike.
 */
export function newestFirstThenId(a: { readonly createdAt: number; readonly id: string }, b: { readonly createdAt: number; readonly id: string }): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
