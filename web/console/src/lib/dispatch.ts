// The dispatcher's unit picker: the units that can take a queued case, nearest first.
import { ancestry } from '@/lib/regions'

export interface PickableUnit {
  id: string
  name: string
  region_code: string
  categories?: string[]
  active?: boolean
}

/** Units in the case's region or one above it (community, town, county), active, and taking
 * the case's category (a unit naming no categories takes all); the most local first, so the
 * community's unit leads and the county's departments follow. */
export function unitsForCase<T extends PickableUnit>(units: readonly T[], regionCode: string,
                                                     categoryCode: string): T[] {
  const chain = ancestry(regionCode)
  const depth = (u: T): number => chain.indexOf(u.region_code)
  return units
    .filter((u) => u.active !== false && depth(u) >= 0)
    .filter((u) => !u.categories?.length || u.categories.includes(categoryCode))
    .sort((a, b) => depth(b) - depth(a) || a.name.localeCompare(b.name))
}

/** A transfer's reason, trimmed; null when too short to send (the API wants two characters). */
export function transferReason(text: string): string | null {
  const reason = text.trim()
  return reason.length >= 2 ? reason : null
}

/** Dispatching a queued case, transferring it with a reason, or sending a returned case
 * back to the unit that returned it with a reason (a transfer to that unit). */
export type DispatchMode = 'dispatch' | 'transfer' | 'sendBack'
