// The deployment's runtime settings, which the gateway serves at /console/config.json (from
// its EHOME_CONSOLE_* environment), so an operator changes them without rebuilding the
// console. Read once per page load; when they cannot be read the console runs without them
// (the maps are a plain background), it never fails to draw a page over them.
import { readonly, ref, type Ref } from 'vue'

export interface ConsoleConfig {
  /** The maps' tile URL template with {z}/{x}/{y}; null: no tiles. */
  tile_url: string | null
}

// Next to the console's own files (vite's base, the gateway's PREFIX): same origin, no token.
export const CONFIG_URL = '/console/config.json'
const NONE: ConsoleConfig = { tile_url: null }

/** A template the maps can use: an http(s) URL with all three placeholders, else null. */
export function tileTemplate(value: unknown): string | null {
  if (typeof value !== 'string' || !/^https?:\/\//.test(value)) return null
  return ['{z}', '{x}', '{y}'].every((p) => value.includes(p)) ? value : null
}

/** The settings as the gateway answers them; NONE on any failure (network, status, body). */
export async function fetchConsoleConfig(get: typeof fetch): Promise<ConsoleConfig> {
  try {
    const response = await get(CONFIG_URL, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
    if (!response.ok) return NONE
    const body: unknown = await response.json()
    if (typeof body !== 'object' || body === null) return NONE
    return { tile_url: tileTemplate((body as Record<string, unknown>).tile_url) }
  } catch {
    return NONE
  }
}

/** A tile URL that starts empty and is filled in by the first call of ``load`` (only one). */
export function createTileSource(get: typeof fetch): { tileUrl: Readonly<Ref<string>>; load: () => Promise<void> } {
  const tileUrl = ref('')
  let loading: Promise<void> | null = null
  function load(): Promise<void> {
    loading ??= fetchConsoleConfig(get).then((config) => { tileUrl.value = config.tile_url ?? '' })
    return loading
  }
  return { tileUrl: readonly(tileUrl), load }
}

const source = createTileSource((input, init) => fetch(input, init))

/** The maps' tile URL template ('' until loaded, and when there is none). */
export function useTileUrl(): Readonly<Ref<string>> {
  void source.load()
  return source.tileUrl
}
