// Problem+json answers as one typed error (shared by every web app: web/shared/src/problems.ts).
export { ApiError, REFRESHABLE_CODES, toApiError, type Problem } from '@shared/problems'
