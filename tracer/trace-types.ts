// The trace's types live in model/trace.ts (their one definition); the correlator reads them here.
export type * from '../model/index.js';
