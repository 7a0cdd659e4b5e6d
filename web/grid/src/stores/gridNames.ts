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
  // The communities last read, so a worker signing in after another on this phone is read anew.
  let readFor: string | null = null

  function keptNames(): void {
    const lists = communitiesOf(session.grids)
      .map((community) => keptData<RegionList>(paths.regions(community))?.items ?? [])
    names.value = { ...names.value, ...namesFrom(lists) }
  }

  async function readNames(): Promise<void> {
    const lists = await Promise.all(communitiesOf(session.grids).map((community) =>
      readKept<RegionList>(paths.regions(community)).then((r) => r.data.items, () => null)))
    if (lists.includes(null)) readFor = null // not read (no signal, nothing kept): try next time
    names.value = { ...names.value, ...namesFrom(lists.filter((list) => list !== null)) }
  }

  /** Names kept on the phone at once, then the directory's (read once per worker while the app runs). */
  async function load(): Promise<void> {
    keptNames()
    const communities = communitiesOf(session.grids).join(',')
    if (readFor === communities) return
    readFor = communities
    await readNames()
  }

  function nameOf(code: string): string {
    return gridName(names.value, code)
  }

  return { names, load, nameOf }
})
