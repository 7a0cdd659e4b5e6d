import { describe, expect, it } from 'vitest'
import { CONFIG_URL, createTileSource, fetchConsoleConfig, tileTemplate } from '@/lib/config'

const TIANDITU = 'https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=k3y'
const answering = (response: () => Response | Promise<Response>): typeof fetch =>
  async () => response()
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), {
  status, headers: { 'Content-Type': 'application/json' } })

describe('the console settings from the gateway', () => {
  it('asks the gateway the console is served from', async () => {
    const asked: string[] = []
    const get: typeof fetch = async (input) => { asked.push(String(input)); return json(200, { tile_url: TIANDITU }) }
    expect(await fetchConsoleConfig(get)).toEqual({ tile_url: TIANDITU })
    expect(asked).toEqual([CONFIG_URL])
    expect(CONFIG_URL).toBe('/console/config.json')
  })
  it('has no tile URL when the gateway configures none', async () => {
    expect(await fetchConsoleConfig(answering(() => json(200, { tile_url: null })))).toEqual({ tile_url: null })
  })
  it('has no tile URL when the gateway cannot be reached', async () => {
    const down = answering(() => Promise.reject(new TypeError('Failed to fetch')))
    expect(await fetchConsoleConfig(down)).toEqual({ tile_url: null })
  })
  it('has no tile URL when the gateway answers an error or not JSON', async () => {
    expect(await fetchConsoleConfig(answering(() => json(404, { code: 'not_found' })))).toEqual({ tile_url: null })
    const page = answering(() => new Response('<!doctype html>', { status: 200, headers: { 'Content-Type': 'text/html' } }))
    expect(await fetchConsoleConfig(page)).toEqual({ tile_url: null })
    expect(await fetchConsoleConfig(answering(() => json(200, ['x'])))).toEqual({ tile_url: null })
  })
  it('takes only a template the maps can draw from', () => {
    expect(tileTemplate(TIANDITU)).toBe(TIANDITU)
    expect(tileTemplate('https://tiles.example.cn/{z}/{x}.png')).toBeNull()
    expect(tileTemplate('javascript:alert(1)//{z}{x}{y}')).toBeNull()
    expect(tileTemplate(42)).toBeNull()
  })
})

describe('the maps tile source', () => {
  it('starts empty, fills in from one request however many maps ask', async () => {
    let calls = 0
    const source = createTileSource(async () => { calls++; return json(200, { tile_url: TIANDITU }) })
    expect(source.tileUrl.value).toBe('')
    await Promise.all([source.load(), source.load(), source.load()])
    expect(source.tileUrl.value).toBe(TIANDITU)
    expect(calls).toBe(1)
  })
  it('stays empty, without an error, when the settings cannot be read', async () => {
    const source = createTileSource(async () => { throw new TypeError('Failed to fetch') })
    await expect(source.load()).resolves.toBeUndefined()
    expect(source.tileUrl.value).toBe('')
  })
})
