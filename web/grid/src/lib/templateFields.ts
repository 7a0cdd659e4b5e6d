// A category's template fields as the report form fills them (shared by the apps:
// web/shared/src/templateFields.ts).
export * from '@shared/templateFields'
