// The outbox as the pages see it: queue a write, the items still on the device (for the badge
// and the waiting list), and the sending: at once after each write, when the signal returns
// ('online'), and on a timer while something waits (its own pause grows on failures).
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { authedFetch } from '@/api/client'
import { openOutboxDb, type OutboxItem } from '@/lib/outbox/db'
import { httpSender } from '@/lib/outbox/http'
import { Outbox, type Draft } from '@/lib/outbox/queue'
import { useSession } from '@/stores/session'

const TICK_MS = 5_000

export const useOutbox = defineStore('outbox', () => {
  const items = shallowRef<OutboxItem[]>([])
  const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine)
  const sending = ref(false)
  let outbox: Promise<Outbox> | null = null

  const session = useSession()
  const me = () => session.user?.id ?? null
  // The signed-in worker's items only: another worker's stay on the phone, out of sight.
  const mine = computed(() => items.value.filter((i) => i.owner === me()))
  const waiting = computed(() => mine.value.filter((i) => i.status === 'waiting'))
  const failed = computed(() => mine.value.filter((i) => i.status === 'failed'))

  function box(): Promise<Outbox> {
    outbox ??= openOutboxDb().then((db) => {
      const created = new Outbox(db, httpSender(authedFetch, window.location.origin))
      created.onChange(() => void reload(created))
      return created
    })
    return outbox
  }

  async function reload(from?: Outbox): Promise<void> {
    items.value = await (from ?? (await box())).items()
  }

  async function enqueue(draft: Draft): Promise<OutboxItem> {
    const item = await (await box()).enqueue({ ...draft, owner: me() })
    void flush()
    return item
  }

  async function flush(force = false): Promise<void> {
    if (!online.value || !session.signedIn) return
    sending.value = true
    try {
      await (await box()).flush(force, me())
    } finally {
      sending.value = false
      await reload()
    }
  }

  async function discard(id: string): Promise<void> {
    await (await box()).discard(id)
  }

  async function retry(id: string): Promise<void> {
    await (await box()).retry(id)
    await flush(true)
  }

  async function photo(key: string): Promise<Blob | undefined> {
    return (await (await box()).photo(key))?.blob
  }

  /** Start listening for the signal and ticking; called once by the app. */
  function start(): void {
    window.addEventListener('online', () => { online.value = true; void flush(true) })
    window.addEventListener('offline', () => { online.value = false })
    setInterval(() => { if (waiting.value.length) void flush() }, TICK_MS)
    void reload().then(() => flush(true))
  }

  return { items: mine, waiting, failed, online, sending, enqueue, flush, discard, retry, photo, start }
})
