// The device's store of writes not yet sent (IndexedDB, through idb): the items in the order
// they were made, and the photos they carry as Blobs until uploaded.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'

export type ItemStatus = 'waiting' | 'failed'

export interface OutboxItem {
  seq?: number // IndexedDB's autoincrement: the order the items were made in
  id: string // the item's own id (client-made UUID)
  kind: string // report, visit, check_in, patrol_start, ... (the catalog names it)
  method: 'POST' | 'PUT' | 'PATCH'
  path: string
  body: Record<string, unknown>
  // Fixed when the item is queued: every retry sends the same key, so the server answers the
  // first record again instead of making a second.
  idempotencyKey: string
  label: string // what the worker reads in the waiting list
  owner: string | null // the worker who made it: only their session sends it
  subject: string | null // the record it acts on (a task's id), for pages that show it pending
  photos: string[] // keys in the blobs store, uploaded before the item is sent
  photoField: string | null // the body's list the uploaded attachment ids are appended to
  uploaded: Record<string, string> // blob key -> attachment id, kept across retries
  createdAt: number
  attempts: number
  nextAttemptAt: number
  status: ItemStatus
  error: string | null // the server's code (failed) or the last network trouble (waiting)
}

export interface StoredPhoto {
  key: string
  blob: Blob
  name: string
}

export interface OutboxSchema extends DBSchema {
  items: { key: number; value: OutboxItem; indexes: { 'by-id': string } }
  blobs: { key: string; value: StoredPhoto }
}

export type OutboxDb = IDBPDatabase<OutboxSchema>

export const DB_NAME = 'ehome-grid'

export function openOutboxDb(name: string = DB_NAME): Promise<OutboxDb> {
  return openDB<OutboxSchema>(name, 1, {
    upgrade(db) {
      const items = db.createObjectStore('items', { keyPath: 'seq', autoIncrement: true })
      items.createIndex('by-id', 'id', { unique: true })
      db.createObjectStore('blobs', { keyPath: 'key' })
    },
  })
}
