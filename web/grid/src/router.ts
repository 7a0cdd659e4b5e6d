import { createRouter, createWebHistory, type Router } from 'vue-router'
import { t } from '@/i18n/zh-CN'
import Shell from '@/layouts/Shell.vue'
import SignIn from '@/views/SignIn.vue'
import { useSession } from '@/stores/session'

// Pages are split per route; the service worker keeps every chunk, so they open offline too.
export function createGridRouter(): Router {
  const router = createRouter({
    history: createWebHistory('/grid/'),
    routes: [
      { path: '/sign-in', name: 'sign-in', component: SignIn, meta: { public: true } },
      {
        path: '/',
        component: Shell,
        children: [
          { path: '', redirect: '/today' },
          { path: 'today', name: 'today', component: () => import('@/views/Today.vue'), meta: { title: t.today.title } },
          { path: 'tasks', name: 'tasks', component: () => import('@/views/Tasks.vue'), meta: { title: t.tasks.title } },
          { path: 'tasks/:id', name: 'task', component: () => import('@/views/TaskDetail.vue'), meta: { title: t.tasks.detail }, props: true },
          { path: 'report', name: 'report', component: () => import('@/views/Report.vue'), meta: { title: t.report.title } },
          { path: 'patrol', name: 'patrol', component: () => import('@/views/Patrol.vue'), meta: { title: t.patrol.title } },
          { path: 'visit', name: 'visit', component: () => import('@/views/Visit.vue'), meta: { title: t.visit.title } },
          { path: 'mine', name: 'mine', component: () => import('@/views/Mine.vue'), meta: { title: t.mine.title } },
          { path: 'outbox', name: 'outbox', component: () => import('@/views/Outbox.vue'), meta: { title: t.outbox.title } },
        ],
      },
      { path: '/:rest(.*)*', redirect: '/today' },
    ],
  })
  // A page of an older build asks for a chunk the new build no longer has (the service
  // worker moved to the new build meanwhile): load the new build at that page instead.
  router.onError((error: unknown, to) => {
    const message = error instanceof Error ? error.message : ''
    if (/dynamically imported module|Importing a module script failed/.test(message)) {
      window.location.assign(router.resolve(to).href)
    }
  })
  router.beforeEach((to) => {
    if (to.meta.public || useSession().signedIn) return true
    return { name: 'sign-in', query: { next: to.fullPath } }
  })
  return router
}
