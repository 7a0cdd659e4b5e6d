// The region cascader's options, filled level by level as the resident opens them: a region
// above the wanted level gets an empty `children` (Vant shows it as "more to load"), one at the
// wanted level none (picking it finishes).
import type { Region } from '@/api/resident'

export const LEVELS = ['city', 'county', 'town', 'community', 'grid'] as const
export type Level = (typeof LEVELS)[number]

export interface RegionOption { text: string; value: string; level: string; children?: RegionOption[] }

export function optionsOf(regions: readonly Region[], last: Level): RegionOption[] {
  const lastIndex = LEVELS.indexOf(last)
  return regions.map((region) => {
    const index = LEVELS.indexOf(region.level as Level)
    const more = index >= 0 && index < lastIndex
    return more
      ? { text: region.name, value: region.code, level: region.level, children: [] }
      : { text: region.name, value: region.code, level: region.level }
  })
}

/** The option of `code` anywhere in the loaded tree. */
export function findOption(options: readonly RegionOption[], code: string): RegionOption | null {
  for (const option of options) {
    if (option.value === code) return option
    const inner = findOption(option.children ?? [], code)
    if (inner) return inner
  }
  return null
}

// Region codes nest by length: county 6 digits, town 9, community 12, grid 15.
const CODE_LENGTHS = [6, 9, 12, 15]

/** The codes from the county down to `code` itself (a code given in a link, say). */
export function ancestry(code: string): string[] {
  return CODE_LENGTHS.filter((length) => length <= code.length).map((length) => code.slice(0, length))
}
