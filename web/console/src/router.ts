import { createRouter, createWebHistory, type Router } from 'vue-router'
import { watch } from 'vue'
import { useSession } from '@/stores/session'
import { homeFor } from '@/lib/menu'

export function createConsoleRouter(): Router {
  const router = createRouter({
    history: createWebHistory(import.meta.env.BASE_URL),
    routes: [
      { path: '/login', name: 'signin', component: () => import('@/views/SignIn.vue'),
        meta: { public: true } },
      // Full screen for a wall display: outside the shell, no menu.
      { path: '/command', name: 'command', component: () => import('@/views/command/CommandCentre.vue') },
      {
        path: '/',
        component: () => import('@/layouts/Shell.vue'),
        children: [
          // Decided once signed in (the guard below runs first), from the roles then held.
          { path: '', name: 'home', component: () => import('@/views/NoRole.vue'),
            beforeEnter: () => homeFor(useSession().roles) },
          { path: 'queue', name: 'queue', component: () => import('@/views/Queue.vue') },
          { path: 'cases/:id', name: 'case', component: () => import('@/views/CaseView.vue'),
            props: true },
          { path: 'dispatch', name: 'dispatch',
            component: () => import('@/views/dispatch/DispatchQueue.vue') },
          { path: 'relief', name: 'relief', component: () => import('@/views/relief/ReliefQueue.vue') },
          { path: 'relief/:id', name: 'relief-application',
            component: () => import('@/views/relief/ReliefApplication.vue'), props: true },
          { path: 'booking', name: 'booking', component: () => import('@/views/booking/BookingRounds.vue') },
          { path: 'booking/redeem', name: 'booking-redeem',
            component: () => import('@/views/booking/BookingRedeem.vue') },
          { path: 'supervision', name: 'supervision',
            component: () => import('@/views/supervision/SupervisionBoard.vue') },
          { path: 'scorecards', name: 'scorecards',
            component: () => import('@/views/scorecards/Scorecards.vue') },
          { path: 'admin', name: 'admin', component: () => import('@/views/admin/AdminHome.vue') },
          { path: 'admin/org', name: 'admin-org', component: () => import('@/views/admin/org/OrgPage.vue') },
          { path: 'admin/staff', name: 'admin-staff',
            component: () => import('@/views/admin/staff/StaffPage.vue') },
          { path: 'admin/partners', name: 'admin-partners',
            component: () => import('@/views/admin/partners/PartnersPage.vue') },
          { path: 'admin/registry', name: 'admin-registry',
            component: () => import('@/views/admin/registry/RegistryPage.vue') },
          { path: 'verification', name: 'verification',
            component: () => import('@/views/grid/VerificationTasks.vue') },
          { path: 'admin/categories', name: 'admin-categories',
            component: () => import('@/views/admin/config/CategoriesView.vue') },
          { path: 'admin/rules', name: 'admin-rules',
            component: () => import('@/views/admin/config/RulesView.vue') },
          { path: 'admin/sla', name: 'admin-sla',
            component: () => import('@/views/admin/config/SlaView.vue') },
          { path: 'admin/holidays', name: 'admin-holidays',
            component: () => import('@/views/admin/config/HolidaysView.vue') },
          { path: 'verification/report', name: 'grid-report',
            component: () => import('@/views/grid/ReportOnBehalf.vue') },
          { path: 'gridwork', redirect: { name: 'gridwork-workers' } },
          { path: 'gridwork/workers', name: 'gridwork-workers',
            component: () => import('@/views/gridwork/WorkersView.vue') },
          { path: 'gridwork/workers/:userId', name: 'gridwork-worker',
            component: () => import('@/views/gridwork/WorkerDetail.vue'), props: true },
          { path: 'gridwork/tasks', name: 'gridwork-tasks',
            component: () => import('@/views/gridwork/TasksView.vue') },
          { path: 'gridwork/roster', name: 'gridwork-roster',
            component: () => import('@/views/gridwork/RosterView.vue') },
          { path: 'gridwork/patrols', name: 'gridwork-patrols',
            component: () => import('@/views/gridwork/PatrolsView.vue') },
          { path: 'gridwork/scorecards', name: 'gridwork-scorecards',
            component: () => import('@/views/gridwork/ScorecardsView.vue') },
          { path: 'my-figures', name: 'my-figures',
            component: () => import('@/views/gridwork/MyFigures.vue') },
          { path: 'no-role', name: 'no-role', component: () => import('@/views/NoRole.vue') },
          { path: ':rest(.*)*', name: 'not-found', component: () => import('@/views/NotFound.vue') },
        ],
      },
    ],
  })

  router.beforeEach((to) => {
    const session = useSession()
    if (to.meta.public || session.signedIn) return true
    return { name: 'signin', query: { redirect: to.fullPath } }
  })

  // A session that ends under the user (expired refresh, revoked, disabled) returns to
  // sign-in and remembers the page, so signing in again lands back on it.
  const session = useSession()
  watch(() => session.lost, () => {
    const here = router.currentRoute.value
    if (here.meta.public) return
    void router.push({ name: 'signin', query: { redirect: here.fullPath, expired: '1' } })
  })
  return router
}
