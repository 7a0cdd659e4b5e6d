import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

// Chinese text lives in src/i18n/zh-CN.ts only (as in the console); generated API types
// quote the server's descriptions and are not UI text.
const SRC = join(__dirname, '..', 'src')
const ALLOWED = new Set(['i18n/zh-CN.ts', 'api/schema.d.ts'])
const CJK = /[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path)
    return /\.(vue|ts)$/.test(name) ? [path] : []
  })
}

describe('one catalog of Chinese UI text', () => {
  it('has no Chinese literal in any component or module outside the catalog', () => {
    const offenders = files(SRC)
      .filter((path) => !ALLOWED.has(relative(SRC, path).split('\\').join('/')))
      .flatMap((path) => readFileSync(path, 'utf8').split('\n')
        .map((line, i) => ({ where: `${relative(SRC, path)}:${i + 1}`, line }))
        .filter(({ line }) => CJK.test(line)))
      .map(({ where, line }) => `${where}: ${line.trim()}`)
    expect(offenders).toEqual([])
  })
  it('would notice one', () => {
    expect(CJK.test("const title = '网格'")).toBe(true)
  })
})
