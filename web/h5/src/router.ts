import { createRouter, createWebHistory, type Router } from 'vue-router'
import { categories } from '@/api/categories'
import { t } from '@/i18n/zh-CN'
import Shell from '@/layouts/Shell.vue'
import Home from '@/views/Home.vue'
import { session } from '@/lib/session'

// The home page is in the first chunk (the official account's menu opens it); every other page is a
// chunk of its own, loaded when opened. WeChat shows the document's title in its top bar, so
// each page's title is set here rather than drawn in the page.
export function createH5Router(): Router {
  const router = createRouter({
    history: createWebHistory('/h5/'),
    routes: [
      { path: '/sign-in', name: 'sign-in', component: () => import('@/views/SignIn.vue'), meta: { title: t.signIn.title } },
      {
        path: '/',
        component: Shell,
        children: [
          { path: '', name: 'home', component: Home, meta: { title: t.home.title } },
          { path: 'report', name: 'report', component: () => import('@/views/Report.vue'), meta: { title: t.report.title, auth: true },
            // The form's categories travel while its code does (api/categories.ts).
            beforeEnter: () => { void categories().catch(() => undefined) } },
          { path: 'cases', name: 'cases', component: () => import('@/views/Cases.vue'), meta: { title: t.cases.title, auth: true } },
          { path: 'cases/:id', name: 'case', component: () => import('@/views/CaseDetail.vue'), props: true, meta: { title: t.cases.detail, auth: true } },
          { path: 'notices', name: 'notices', component: () => import('@/views/Notices.vue'), meta: { title: t.notices.title } },
          { path: 'relief', name: 'relief', component: () => import('@/views/Relief.vue'), meta: { title: t.relief.title, auth: true } },
          { path: 'relief/:id', name: 'relief-application', component: () => import('@/views/ReliefDetail.vue'), props: true, meta: { title: t.relief.detail, auth: true } },
          { path: 'verify', name: 'verify', component: () => import('@/views/Verify.vue'), meta: { title: t.verify.title, auth: true } },
          { path: 'booking', name: 'booking', component: () => import('@/views/Booking.vue'), meta: { title: t.booking.title, auth: true } },
          { path: 'notifications', name: 'notifications', component: () => import('@/views/Notifications.vue'), meta: { title: t.notifications.title, auth: true } },
          { path: 'mine', name: 'mine', component: () => import('@/views/Mine.vue'), meta: { title: t.mine.title, auth: true } },
        ],
      },
      { path: '/:rest(.*)*', redirect: '/' },
    ],
  })
  // A page of an older build asks for a chunk the new build no longer has: load it anew.
  router.onError((error: unknown, to) => {
    const message = error instanceof Error ? error.message : ''
    if (/dynamically imported module|Importing a module script failed/.test(message)) {
      window.location.assign(router.resolve(to).href)
    }
  })
  router.beforeEach((to) => {
    if (!to.meta.auth || session.signedIn.value) return true
    return { name: 'sign-in', query: { next: to.fullPath } }
  })
  router.afterEach((to) => {
    document.title = (to.meta.title as string | undefined) ?? t.app.name
  })
  return router
}
