// The category tree for the report form (shared by the apps: web/shared/src/categories.ts).
export * from '@shared/categories'
