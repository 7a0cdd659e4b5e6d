/* The grid app's service worker: keeps this build's files so the app opens without signal.
 * Written by hand (no inline script, no eval: the gateway's CSP); emitted as /grid/sw.js (its
 * scope is /grid/). The build replaces the two placeholders with the build's file list and its hash (vite.config.ts).
 *
 * - install: every file of the build into a cache named for the build;
 * - activate: older builds' caches are deleted;
 * - a page load (navigation) under /grid/: the network first (a new deployment is seen at
 *   once), the kept index.html when there is no signal;
 * - the build's other files: from the cache, else the network.
 * The API (/api/...) is never touched: writes go through the app's own outbox in IndexedDB. */
const PRECACHE = __PRECACHE__
const VERSION = __VERSION__
const CACHE = 'ehome-grid-' + VERSION
const SCOPE = '/grid/'

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names
        .filter((name) => name.startsWith('ehome-grid-') && name !== CACHE)
        .map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return
  if (request.mode === 'navigate') {
    event.respondWith(fetch(request).catch(() => caches.match(SCOPE, { cacheName: CACHE })
      .then((page) => page || Response.error())))
    return
  }
  event.respondWith(caches.match(request, { cacheName: CACHE })
    .then((kept) => kept || fetch(request)))
})
