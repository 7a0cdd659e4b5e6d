import { onBeforeUnmount, ref, type Ref } from 'vue'

/** The current time, ticking every `everyMs` while the component is mounted (countdowns). */
export function useNow(everyMs: number): Ref<number> {
  const now = ref(Date.now())
  const timer = setInterval(() => { now.value = Date.now() }, everyMs)
  onBeforeUnmount(() => clearInterval(timer))
  return now
}
