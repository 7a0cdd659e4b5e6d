// The names of the worker's grids, read from the routing directory (their communities'
// children) and kept on the phone like the other reads, so pickers name grids without signal.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { keptData, paths, readKept, type RegionList } from '@/api/grid'
import { communitiesOf, gridName, namesFrom } from '@/lib/gridNames'
import { useSession } from '@/stores/session'

export const useGridNames = defineStore('gridNames', () => {
  const session = useSession()
  const names = ref<Record<string, string>>({})
  let reading: Promise<void> | null = null

  function keptNames(): void {
    const lists = communitiesOf(session.grids)
      .map((community) => keptData<RegionList>(paths.regions(community))?.items ?? [])
    names.value = { ...names.value, ...namesFrom(lists) }
  }

  async function readNames(): Promise<void> {
    const lists = await Promise.all(communitiesOf(session.grids).map((community) =>
      readKept<RegionList>(paths.regions(community)).then((r) => r.data.items, () => [])))
    names.value = { ...names.value, ...namesFrom(lists) }
  }

  /** Names kept on the phone at once, then the directory's (read once while the app runs). */
  function load(): Promise<void> {
    keptNames()
    reading ??= readNames()
    return reading
  }

  function nameOf(code: string): string {
    return gridName(names.value, code)
  }

  return { names, load, nameOf }
})
