import { createApp } from 'vue'
import { createPinia } from 'pinia'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import 'vant/es/notify/style'
import App from './App.vue'
import { createGridRouter } from './router'
import { useOutbox } from './stores/outbox'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
app.use(createGridRouter())
useOutbox().start()
app.mount('#app')

// The service worker keeps the app on the phone (built app only: the dev server has none).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void navigator.serviceWorker.register('/grid/sw.js', { scope: '/grid/' })
}
