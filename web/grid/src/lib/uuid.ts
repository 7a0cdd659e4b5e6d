// Client-made ids (shared by every web app: web/shared/src/uuid.ts).
export { uuid4 } from '@shared/uuid'
