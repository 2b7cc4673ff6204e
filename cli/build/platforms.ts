// The platform a build is for, as the cli reads it.
import type { Platform } from '../contracts.js';

/** What BuildKit builds for when no platform is asked for (this daemon's own). */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };
