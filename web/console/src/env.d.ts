/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Map tiles: a URL template with {z}/{x}/{y}; unset, the map is a plain background. */
  readonly VITE_TILE_URL?: string
}
