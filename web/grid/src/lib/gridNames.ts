// Grid names for the pickers and labels: a grid's code (15 digits) starts with its
// community's (12), whose children the routing directory lists with their names.
export interface Region { code: string; name: string; level?: string }

/** The communities whose children name the given grids, each once, in order. */
export function communitiesOf(grids: readonly string[]): string[] {
  return [...new Set(grids.filter((code) => code.length === 15).map((code) => code.slice(0, 12)))]
}

/** Names by code from the regions lists read (later lists win: they are newer). */
export function namesFrom(lists: readonly (readonly Region[])[]): Record<string, string> {
  return Object.fromEntries(lists.flat().map((region) => [region.code, region.name]))
}

/** What a grid is called: its name when known, else its code. */
export function gridName(names: Readonly<Record<string, string>>, code: string): string {
  return names[code] ?? code
}
