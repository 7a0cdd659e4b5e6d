// The region directory as the pickers walk it: the children of a region (of the city when
// no parent is given), read without a token (the directory is public).
import { ok, publicApi } from './client'
import type { Region } from './resident'

export async function childrenOf(parent: string | null): Promise<Region[]> {
  const query = parent ? { parent } : {}
  const list = await ok(publicApi.GET('/api/v1/routing/regions', { params: { query } }))
  return list.items
}

/** The city's counties: the directory's top answers the city itself when asked without a
 * parent, and a resident starts from its counties. */
export async function topRegions(): Promise<Region[]> {
  const top = await childrenOf(null)
  if (top.length === 1 && top[0]!.level === 'city') return childrenOf(top[0]!.code)
  return top
}
