// Region names for codes, read from the region tree a level at a time and kept for the session.
import { defineStore } from 'pinia'
import { api, ok } from '@/api/client'
import { ancestry, parentOf } from '@/lib/regions'

type Level = { code: string; name: string }[]

export const useRegions = defineStore('regions', () => {
  const children = new Map<string, Promise<Level>>() // by parent code ('' for the city)

  function listUnder(parent: string | null): Promise<Level> {
    const key = parent ?? ''
    let level = children.get(key)
    if (!level) {
      const query = parent ? { parent } : {}
      level = ok(api.GET('/api/v1/routing/regions', { params: { query } }))
        .then((answer) => answer.items)
      level.catch(() => children.delete(key))
      children.set(key, level)
    }
    return level
  }

  async function nameOf(code: string): Promise<string> {
    const parent = parentOf(code) ?? (await listUnder(null))[0]?.code ?? null
    return (await listUnder(parent)).find((r) => r.code === code)?.name ?? code
  }

  /** County / town / community / grid names joined by slashes (a code where a name is missing). */
  async function pathOf(code: string): Promise<string> {
    const names = await Promise.all(ancestry(code).map((c) => nameOf(c).catch(() => c)))
    return names.join(' / ')
  }

  return { pathOf }
})
