// Names of units and regions for lists that hold only their ids and codes: asked once each,
// kept for the page, the id or code itself standing in until (or unless) the name arrives.
import { reactive } from 'vue'
import { api, ok } from '@/api/client'
import { useRegions } from '@/stores/regions'

export function useDirectoryNames() {
  const units = reactive<Record<string, string>>({})
  const regions = reactive<Record<string, string>>({})
  const tree = useRegions()

  function learn(unitIds: Iterable<string>, regionCodes: Iterable<string>): void {
    for (const id of unitIds) {
      if (units[id]) continue
      units[id] = id
      void ok(api.GET('/api/v1/routing/units/{unit_id}', { params: { path: { unit_id: id } } }))
        .then((unit) => { units[id] = unit.name }).catch(() => undefined)
    }
    for (const code of regionCodes) {
      if (regions[code]) continue
      regions[code] = code
      void tree.pathOf(code).then((path) => { regions[code] = path }).catch(() => undefined)
    }
  }

  return { units, regions, learn }
}
