// The category tree as the report form's cascader shows it, and the template of a picked
// category (its fields are filled in the form: see templateFields.ts).
import type { Category, TemplateField } from './catalog'

export interface Option { text: string; value: string; children?: Option[] }

export function cascaderOptions(tree: readonly Category[]): Option[] {
  return tree.map((c) => {
    const children = cascaderOptions(c.children ?? [])
    return children.length ? { text: c.name, value: c.code, children } : { text: c.name, value: c.code }
  })
}

/** The name shown for a picked code. */
export function optionName(options: Option[], code: string): string | null {
  for (const option of options) {
    if (option.value === code) return option.text
    const inner = optionName(option.children ?? [], code)
    if (inner) return inner
  }
  return null
}

/** The template fields of the category ``code`` anywhere in the tree (none when unknown). */
export function templateOf(tree: readonly Category[], code: string): TemplateField[] {
  for (const category of tree) {
    if (category.code === code) return category.template ?? []
    const inner = templateOf(category.children ?? [], code)
    if (inner.length) return inner
  }
  return []
}
