// The report form's categories: the whole tree as the cascader wants it (those with required
// template fields too: the form fills them), and the template of a picked category.
import { expect, it } from 'vitest'
import type { Category } from '../src/api/grid'
import { cascaderOptions, optionName, templateOf } from '../src/lib/categories'

const employer = { key: 'employer', label: 'employer', type: 'text', required: true } as const
const tree: Category[] = [
  { code: 'social_conflict', name: 'conflict', parent_code: null, template: [], children: [
    { code: 'dispute_neighbour', name: 'neighbours', parent_code: 'social_conflict', template: [] },
    { code: 'dispute_labour', name: 'labour', parent_code: 'social_conflict', template: [employer] },
  ] },
  { code: 'fire', name: 'fire', parent_code: null },
]

it('keeps the whole tree, categories with required template fields included', () => {
  expect(cascaderOptions(tree)).toEqual([
    { text: 'conflict', value: 'social_conflict', children: [
      { text: 'neighbours', value: 'dispute_neighbour' }, { text: 'labour', value: 'dispute_labour' }] },
    { text: 'fire', value: 'fire' },
  ])
})

it('names a picked code at any depth', () => {
  const options = cascaderOptions(tree)
  expect(optionName(options, 'dispute_labour')).toBe('labour')
  expect(optionName(options, 'unknown')).toBeNull()
})

it('finds the template of a picked category at any depth, none for one without', () => {
  expect(templateOf(tree, 'dispute_labour')).toEqual([employer])
  expect(templateOf(tree, 'fire')).toEqual([])
  expect(templateOf(tree, 'unknown')).toEqual([])
})
