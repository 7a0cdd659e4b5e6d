// The category tree (names and template field labels), loaded once per session.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ok } from '@/api/client'
import type { components } from '@/api/schema'

export type Category = components['schemas']['CategoryRead']

export interface FlatCategory {
  code: string
  name: string
  depth: number
  category: Category
}

function flatten(items: Category[], depth = 0, out: FlatCategory[] = []): FlatCategory[] {
  for (const item of items) {
    out.push({ code: item.code, name: item.name, depth, category: item })
    flatten(item.children ?? [], depth + 1, out)
  }
  return out
}

export const useCategories = defineStore('categories', () => {
  const tree = ref<Category[]>([])
  let loading: Promise<void> | null = null

  const flat = computed(() => flatten(tree.value))
  const byCode = computed(() => new Map(flat.value.map((c) => [c.code, c.category])))

  function load(): Promise<void> {
    loading ??= ok(api.GET('/api/v1/events/categories'))
      .then((answer) => { tree.value = answer.items })
      .catch((error: unknown) => { loading = null; throw error })
    return loading
  }

  function name(code: string): string {
    return byCode.value.get(code)?.name ?? code
  }

  return { tree, flat, byCode, load, name }
})
