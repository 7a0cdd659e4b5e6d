// The one outbox every write of the app goes through (reports, visits, check-ins, patrols,
// task completions, logs). Items are sent one at a time in the order they were made, so a
// patrol's start always reaches the server before its points:
// - a 2xx: done, the item and its photos leave the device;
// - no answer, a 5xx, 408 or 429: kept, tried again later with a growing pause (and at once
//   when the signal returns); the items behind it wait, keeping the order;
// - a 401 after the client's own refresh: kept (the worker signs in again, then it goes);
// - any other 4xx: the server will never take it as it is: marked failed with the server's
//   code, shown to the worker, and the next item goes.
import type { OutboxDb, OutboxItem, StoredPhoto } from './db'
import { uuid4 } from '../uuid'

export interface Refused {
  status: number
  code: string
  detail: string
}

/** How an item reaches the server; a thrown error means no answer (no signal). */
export interface Sender {
  upload(photo: StoredPhoto): Promise<{ id: string } | Refused>
  send(request: { method: string; path: string; body: unknown; idempotencyKey: string }
  ): Promise<{ ok: true } | Refused>
}

export interface Draft {
  kind: string
  method?: OutboxItem['method']
  path: string
  body: Record<string, unknown>
  label: string
  owner?: string | null
  subject?: string
  photos?: { blob: Blob; name: string }[]
  photoField?: string
}

export interface FlushResult {
  sent: number
  failed: number
  waiting: number
}

const BASE_PAUSE_MS = 2_000
const MAX_PAUSE_MS = 5 * 60_000

/** The pause before the next try after ``attempts`` failed ones: doubling, capped. */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_PAUSE_MS, BASE_PAUSE_MS * 2 ** Math.max(0, attempts - 1))
}

/** Worth trying again as it is: the server was away or busy, not refusing the item. */
export function isTransient(status: number): boolean {
  return status >= 500 || status === 408 || status === 429 || status === 401
}

export class Outbox {
  private flushing: Promise<FlushResult> | null = null
  private readonly listeners = new Set<() => void>()

  constructor(
    private readonly db: OutboxDb,
    private readonly sender: Sender,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called after every change (the badge and the waiting list follow it). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Queue a write: its photos stored, its id and Idempotency-Key fixed now. */
  async enqueue(draft: Draft): Promise<OutboxItem> {
    const photos = (draft.photos ?? []).map((p) => ({ key: uuid4(), blob: p.blob, name: p.name }))
    const item: OutboxItem = {
      id: uuid4(), kind: draft.kind, method: draft.method ?? 'POST', path: draft.path,
      // A plain copy: IndexedDB cannot keep the pages' reactive proxies.
      body: JSON.parse(JSON.stringify(draft.body)) as Record<string, unknown>, idempotencyKey: uuid4(), label: draft.label, owner: draft.owner ?? null,
      subject: draft.subject ?? null,
      photos: photos.map((p) => p.key), photoField: draft.photoField ?? null, uploaded: {},
      createdAt: this.now(), attempts: 0, nextAttemptAt: 0, status: 'waiting', error: null,
    }
    const tx = this.db.transaction(['items', 'blobs'], 'readwrite')
    for (const photo of photos) await tx.objectStore('blobs').put(photo)
    item.seq = await tx.objectStore('items').add(item)
    await tx.done
    this.changed()
    return item
  }

  /** Every item on the device, oldest first. */
  async items(): Promise<OutboxItem[]> {
    return this.db.getAll('items')
  }

  async photo(key: string): Promise<StoredPhoto | undefined> {
    return this.db.get('blobs', key)
  }

  /** Drop an item (a failed one the worker gives up on) with its photos. */
  async discard(id: string): Promise<void> {
    const item = await this.db.getFromIndex('items', 'by-id', id)
    if (item) await this.remove(item)
    this.changed()
  }

  /** A failed item back in the queue (e.g. after the worker fixed what the server refused). */
  async retry(id: string): Promise<void> {
    const item = await this.db.getFromIndex('items', 'by-id', id)
    if (!item) return
    await this.db.put('items', { ...item, status: 'waiting', error: null, nextAttemptAt: 0 })
    this.changed()
  }

  /** Send what is due, in order; one flush at a time (concurrent callers share it).
   * ``force`` ignores the pauses (the signal just came back, or the worker asked);
   * ``owner``: only that worker's items go (another worker signed in on the same phone
   * must not send them under their name); theirs wait for them. */
  flush(force = false, owner: string | null = null): Promise<FlushResult> {
    this.flushing ??= this.drain(force, owner).finally(() => { this.flushing = null })
    return this.flushing
  }

  private async drain(force: boolean, owner: string | null): Promise<FlushResult> {
    const result: FlushResult = { sent: 0, failed: 0, waiting: 0 }
    let blocked = false
    for (const item of await this.items()) {
      if (item.status !== 'waiting') continue
      if (item.owner !== owner) { // another worker's: not this session's to send
        result.waiting += 1
        continue
      }
      if (blocked || (!force && item.nextAttemptAt > this.now())) {
        blocked = true // order: nothing overtakes an item still waiting
        result.waiting += 1
        continue
      }
      const outcome = await this.deliver(item)
      if (outcome === 'sent') result.sent += 1
      else if (outcome === 'failed') result.failed += 1
      else { result.waiting += 1; blocked = true }
      this.changed()
    }
    return result
  }

  private async deliver(item: OutboxItem): Promise<'sent' | 'failed' | 'later'> {
    try {
      const prepared = await this.withPhotos(item)
      if ('refused' in prepared) return this.settle(item, prepared.refused)
      const body = prepared.body
      const answer = await this.sender.send({ method: item.method, path: item.path, body,
        idempotencyKey: item.idempotencyKey })
      if (isRefused(answer)) return this.settle(item, answer)
      await this.remove(item)
      return 'sent'
    } catch (error) {
      await this.later(item, error instanceof Error ? error.message : String(error))
      return 'later'
    }
  }

  /** The body with the photos' attachment ids, uploading those not uploaded yet. */
  private async withPhotos(item: OutboxItem
  ): Promise<{ body: Record<string, unknown> } | { refused: Refused }> {
    for (const key of item.photos) {
      if (item.uploaded[key]) continue
      const photo = await this.db.get('blobs', key)
      if (!photo) continue // removed with a discarded twin: nothing to attach
      const stored = await this.sender.upload(photo)
      if (isRefused(stored)) return { refused: stored }
      item.uploaded[key] = stored.id
      await this.db.put('items', item) // a retry does not upload it again
    }
    if (!item.photoField) return { body: item.body }
    const given = (item.body[item.photoField] as string[] | undefined) ?? []
    const ids = item.photos.map((key) => item.uploaded[key]).filter((id): id is string => !!id)
    return { body: { ...item.body, [item.photoField]: [...given, ...ids] } }
  }

  private async settle(item: OutboxItem, refused: Refused): Promise<'failed' | 'later'> {
    if (isTransient(refused.status)) {
      await this.later(item, refused.code)
      return 'later'
    }
    await this.db.put('items', { ...item, status: 'failed', error: refused.code })
    return 'failed'
  }

  private async later(item: OutboxItem, error: string): Promise<void> {
    const attempts = item.attempts + 1
    await this.db.put('items', { ...item, attempts, error,
      nextAttemptAt: this.now() + backoffMs(attempts) })
  }

  private async remove(item: OutboxItem): Promise<void> {
    const tx = this.db.transaction(['items', 'blobs'], 'readwrite')
    for (const key of item.photos) await tx.objectStore('blobs').delete(key)
    if (item.seq !== undefined) await tx.objectStore('items').delete(item.seq)
    await tx.done
  }

  private changed(): void {
    for (const listener of this.listeners) listener()
  }
}

function isRefused(value: unknown): value is Refused {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value
}
