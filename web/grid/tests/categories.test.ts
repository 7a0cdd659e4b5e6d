// The report form's categories: the tree as the cascader wants it, without those whose
// template needs a field the phone form cannot fill yet.
import { expect, it } from 'vitest'
import { cascaderOptions, optionName } from '../src/lib/categories'

const tree = [
  { code: 'social_conflict', name: 'conflict', parent_code: null, template: [], children: [
    { code: 'dispute_neighbour', name: 'neighbours', parent_code: 'social_conflict', template: [] },
    { code: 'dispute_labour', name: 'labour', parent_code: 'social_conflict',
      template: [{ required: true }] },
  ] },
  { code: 'fire', name: 'fire', parent_code: null, template: [{ required: false }] },
]

it('keeps the tree and leaves out categories with required template fields', () => {
  expect(cascaderOptions(tree)).toEqual([
    { text: 'conflict', value: 'social_conflict',
      children: [{ text: 'neighbours', value: 'dispute_neighbour' }] },
    { text: 'fire', value: 'fire' },
  ])
})

it('names a picked code at any depth', () => {
  const options = cascaderOptions(tree)
  expect(optionName(options, 'dispute_neighbour')).toBe('neighbours')
  expect(optionName(options, 'unknown')).toBeNull()
})
