// Web-Mercator ("slippy map") tiles around a point: which tiles to draw and where the point
// falls among them. Tiles come from a URL template the operator sets on the gateway at run
// time (EHOME_CONSOLE_TILE_URL, e.g. Tianditu with its key; the gateway lets its origin into
// the CSP and serves it in /console/config.json, see lib/config.ts); without one the map is a
// plain background with the point.
export const TILE = 256

export interface TileView {
  tiles: { x: number; y: number; left: number; top: number }[]
  /** The point's position in the view, in pixels from the top left. */
  pin: { left: number; top: number }
}

export function worldPixel(lat: number, lng: number, zoom: number): { x: number; y: number } {
  const scale = TILE * 2 ** zoom
  const sin = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180)
  return {
    x: ((lng + 180) / 360) * scale,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale,
  }
}

/** The tiles covering a width×height view centred on the point. */
export function tileView(lat: number, lng: number, zoom: number, width: number, height: number): TileView {
  const centre = worldPixel(lat, lng, zoom)
  const originX = centre.x - width / 2
  const originY = centre.y - height / 2
  const tiles: TileView['tiles'] = []
  for (let x = Math.floor(originX / TILE); x * TILE < originX + width; x++) {
    for (let y = Math.floor(originY / TILE); y * TILE < originY + height; y++) {
      tiles.push({ x, y, left: x * TILE - originX, top: y * TILE - originY })
    }
  }
  return { tiles, pin: { left: width / 2, top: height / 2 } }
}

export function tileUrl(template: string, x: number, y: number, z: number): string {
  return template.replace('{x}', String(x)).replace('{y}', String(y)).replace('{z}', String(z))
}
