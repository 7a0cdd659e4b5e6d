import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// The gateway serves the build at /h5/ under a CSP without inline scripts, so the build must
// not need any: no module-preload polyfill inlined, nothing evaluated. Every page but the
// home page is its own chunk (router.ts), so the first screen loads only what it draws.
export default defineConfig({
  base: '/h5/',
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
  ],
  build: {
    modulePreload: { polyfill: false },
    sourcemap: false,
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
