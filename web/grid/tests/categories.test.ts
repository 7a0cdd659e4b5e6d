// The report form's categories: the whole tree as the cascader wants it (those with required
// template fields too: the form fills them), and the template of a picked category.
import { expect, it } from 'vitest'
import type { Category, TemplateField } from '../src/api/grid'
import { cascaderOptions, optionName, templateOf } from '../src/lib/categories'

const employer: TemplateField = {
  key: 'employer', label: 'employer', type: 'text', required: true, choices: [], options: [] }
/** A category as the API sends it, with its template and children. */
function category(code: string, template: TemplateField[] = [], children: Category[] = []): Category {
  return { code, name: code.split('_').pop()!, parent_code: null, major_risk: 'none',
    default_urgency: 'normal', sensitive: false, verified_only: false, sort: 0, template, children }
}
const tree: Category[] = [
  category('social_conflict', [], [category('dispute_neighbour'), category('dispute_labour', [employer])]),
  category('fire'),
]

it('keeps the whole tree, categories with required template fields included', () => {
  expect(cascaderOptions(tree)).toEqual([
    { text: 'conflict', value: 'social_conflict', children: [
      { text: 'neighbour', value: 'dispute_neighbour' }, { text: 'labour', value: 'dispute_labour' }] },
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
