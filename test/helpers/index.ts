// Helpers for integration tests: the environment, building both ways, reading images,
// and the testdata cases. Import from here or from the individual files.
export * from './environment.js';
export * from './process.js';
export * from './docker.js';
export * from './image.js';
export * from './cases.js';
export * from './daemons.js';
