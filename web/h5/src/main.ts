import { createApp } from 'vue'
import 'vant/es/toast/style'
import App from './App.vue'
import { createH5Router } from './router'
import './styles.css'

createApp(App).use(createH5Router()).mount('#app')
