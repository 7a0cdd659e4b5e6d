import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The gateway serves the build at /console/ under a CSP without inline scripts, so the
// build must not need any: no module-preload polyfill inlined, nothing evaluated.
export default defineConfig({
  base: '/console/',
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('./src', import.meta.url)),
      // What every web app does the same way (web/shared/README.md).
      '@shared': fileURLToPath(new URL('../shared/src', import.meta.url)),
    },
  },
  plugins: [
    vue(),
    // Element Plus per component (its CSS too), so each route only loads what it renders.
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: 'src/components.d.ts' }),
  ],
  build: {
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // Development against `make run`: the API stays same-origin through this proxy.
    proxy: {
      '/api': process.env.EHOME_API ?? 'http://127.0.0.1:8000',
      '/console/config.json': process.env.EHOME_API ?? 'http://127.0.0.1:8000',
    },
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
  },
})
