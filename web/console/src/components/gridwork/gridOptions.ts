// The grids a manager can choose: every 15-digit leaf under their regions, named by path,
// read once per session. An admin (no regions: the whole city) types a grid code instead.
import { ref, type Ref } from 'vue'
import { api, ok } from '@/api/client'
import { gridsUnder } from '@/lib/gridwork'
import { useSession } from '@/stores/session'

export interface GridOption { code: string; name: string }

const loaded = ref<GridOption[]>([])
let pending: Promise<void> | null = null

async function children(parent: string): Promise<GridOption[]> {
  const { items } = await ok(api.GET('/api/v1/routing/regions', { params: { query: { parent } } }))
  return items.map((r) => ({ code: r.code, name: r.name }))
}

export function useGridOptions(): Ref<GridOption[]> {
  const session = useSession()
  pending ??= (async () => {
    const regions = session.user?.regions ?? []
    const found = await Promise.all(regions.map((r) => gridsUnder(r, children).catch(() => [])))
    loaded.value = found.flat()
  })().catch(() => { pending = null })
  return loaded
}
