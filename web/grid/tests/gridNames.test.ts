// Grid names: a grid is named by its community's list of children in the routing directory.
import { expect, it } from 'vitest'
import { communitiesOf, gridName, namesFrom } from '../src/lib/gridNames'

it('reads each community of the worker\'s grids once, and ignores codes that are not grids', () => {
  expect(communitiesOf(['350602001001001', '350602001001002', '350602001002001', '350602001001']))
    .toEqual(['350602001001', '350602001002'])
})

it('names grids from the lists read, the newer list winning', () => {
  const names = namesFrom([
    [{ code: '350602001001001', name: 'first' }, { code: '350602001001002', name: 'second' }],
    [{ code: '350602001001001', name: 'renamed' }],
  ])
  expect(gridName(names, '350602001001001')).toBe('renamed')
  expect(gridName(names, '350602001001002')).toBe('second')
})

it('shows the code of a grid whose name is not known', () => {
  expect(gridName({}, '350602001001009')).toBe('350602001001009')
})
