// The category tree as the report form's cascader shows it. Categories whose template has a
// required field are left out: the phone form has no template fields yet (the console has).
import type { Category } from '@/api/grid'

export interface Option { text: string; value: string; children?: Option[] }

interface WithTemplate extends Category { template?: { required?: boolean }[]; children?: WithTemplate[] }

export function cascaderOptions(tree: WithTemplate[]): Option[] {
  return tree
    .filter((c) => !(c.template ?? []).some((field) => field.required))
    .map((c) => {
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
