// The category tree, read once per visit: the router asks for it as soon as the report page is
// being opened, so on a slow link it travels while the page's code does (one round trip
// fewer before the form is usable). A failed read is forgotten, so the next asks again.
import { api, ok } from './client'
import type { Category } from './resident'

let pending: Promise<Category[]> | null = null

export function categories(): Promise<Category[]> {
  pending ??= ok(api.GET('/api/v1/events/categories')).then((tree) => tree.items)
  pending.catch(() => { pending = null })
  return pending
}
