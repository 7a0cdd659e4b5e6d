import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

const BASE = '/grid/'

// The service worker (src/service-worker.js, plain JS, kept under src/ so a change to it
// makes `make grid` rebuild) is emitted as dist/sw.js with the list of every
// file of this build, so a first visit with signal keeps the whole app, lazy pages too, and
// the phone opens it later without any. Its version is a hash of that list: a new build is a
// new worker, which replaces the old cache.
function serviceWorker(): Plugin {
  let publicDir = ''
  return {
    name: 'grid-service-worker',
    apply: 'build',
    configResolved(config) {
      publicDir = config.publicDir
    },
    generateBundle(_options, bundle) {
      // The bundle's files, and public/'s (copied as they are, e.g. the manifest).
      const copied = publicDir && existsSync(publicDir)
        ? readdirSync(publicDir, { recursive: true, withFileTypes: true })
          .filter((entry) => entry.isFile())
          .map((entry) => `${entry.parentPath}/${entry.name}`.slice(publicDir.length + 1))
        : []
      const files = [...Object.keys(bundle), ...copied].filter((name) => !name.endsWith('.map'))
      const urls = [BASE, ...files.filter((name) => name !== 'index.html').map((f) => BASE + f)]
      const version = createHash('sha256').update(urls.join('\n')).digest('hex').slice(0, 12)
      const source = readFileSync(fileURLToPath(new URL('./src/service-worker.js', import.meta.url)), 'utf8')
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: source
          .replace('__PRECACHE__', JSON.stringify(urls))
          .replace('__VERSION__', JSON.stringify(version)),
      })
    },
  }
}

// The gateway serves the build at /grid/ under a CSP without inline scripts, so the build
// must not need any: no module-preload polyfill inlined, nothing evaluated.
export default defineConfig({
  base: BASE,
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('./src', import.meta.url)),
      // What every web app does the same way (web/shared/README.md).
      '@shared': fileURLToPath(new URL('../shared/src', import.meta.url)),
    },
  },
  plugins: [
    vue(),
    // Vant per component (its CSS too), so each page only loads what it renders.
    Components({ resolvers: [VantResolver()], dts: 'src/components.d.ts' }),
    serviceWorker(),
  ],
  build: {
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // Development against `make run`: the API stays same-origin through this proxy.
    proxy: { '/api': process.env.EHOME_API ?? 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
  },
})
