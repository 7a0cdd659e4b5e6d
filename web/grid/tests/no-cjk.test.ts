// Every Chinese word the worker reads comes from src/i18n/zh-CN.ts: a literal anywhere else
// under src/ fails here, so a wording change is one edit.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src', import.meta.url))
const CJK = /[\u4e00-\u9fff]/

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

it('keeps Chinese text in the catalog only', () => {
  const offenders = files(SRC)
    .filter((path) => /\.(ts|vue)$/.test(path) && !path.endsWith(join('i18n', 'zh-CN.ts')))
    .filter((path) => !path.endsWith('.d.ts'))
    .filter((path) => CJK.test(readFileSync(path, 'utf8')))
    .map((path) => relative(SRC, path))
  expect(offenders).toEqual([])
})
